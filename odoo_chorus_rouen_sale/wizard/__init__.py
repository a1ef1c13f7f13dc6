from . import chorus_pro_order_read
