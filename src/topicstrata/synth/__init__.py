"""topicstrata.synth"""
