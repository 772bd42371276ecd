"""vigia_operator"""
