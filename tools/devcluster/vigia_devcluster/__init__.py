"""vigia_devcluster"""
