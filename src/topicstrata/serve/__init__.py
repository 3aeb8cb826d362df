"""topicstrata.serve"""
