from . import chorus_pro_messages
from . import chorus_pro_service
from . import res_company
from . import res_config_settings
from . import res_partner
from . import account_edi_xml_cii
from . import account_move
from . import account_move_send
