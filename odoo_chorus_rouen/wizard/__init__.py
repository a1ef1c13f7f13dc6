from . import chorus_pro_recycle
from . import chorus_pro_late_payment_claim
from . import chorus_pro_complete
from . import chorus_pro_order_read
