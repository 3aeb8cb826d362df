"""topicstrata.tune"""
