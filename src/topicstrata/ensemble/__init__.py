"""topicstrata.ensemble"""
