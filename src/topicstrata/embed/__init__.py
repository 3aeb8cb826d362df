"""topicstrata.embed"""
