"""topicstrata.preprocess"""
