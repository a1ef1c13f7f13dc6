from . import chorus_pro_recycle
from . import chorus_pro_complete
