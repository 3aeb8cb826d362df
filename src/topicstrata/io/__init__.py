"""topicstrata.io"""
