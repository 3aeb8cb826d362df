"""topicstrata.layers"""
