"""topicstrata.studio"""
