"""topicstrata.pipeline"""
