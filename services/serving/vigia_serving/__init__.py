"""vigia_serving"""
