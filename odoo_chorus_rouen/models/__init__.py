from . import chorus_pro_ecb_rate
from . import chorus_pro_messages
from . import chorus_pro_service
from . import chorus_pro_routing
from . import res_company
from . import res_config_settings
from . import res_partner
from . import res_partner_late_payment
from . import res_partner_directory_refresh
from . import res_company_directory_refresh
from . import res_company_technical_account
from . import res_config_settings_directory_refresh
from . import account_edi_xml_cii
from . import account_edi_xml_cii_late_payment
from . import account_edi_xml_cii_documents
# The invoice: the base model file, then the send job and the status sync it was split into, then
# every concern that extends them (each calls super()).
from . import account_move
from . import account_move_send
from . import account_move_chorus_send
from . import account_move_chorus_sync
from . import account_move_late_payment
from . import account_move_directory
from . import ir_attachment
from . import account_move_documents
from . import chorus_pro_completion
from . import account_move_completion
from . import account_move_account_stop
