"""topicstrata.evaluate"""
