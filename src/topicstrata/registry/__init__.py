"""topicstrata.registry"""
