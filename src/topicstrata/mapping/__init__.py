"""topicstrata.mapping"""
