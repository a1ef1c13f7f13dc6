from . import chorus_pro_recycle
