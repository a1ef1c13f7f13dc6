from . import test_export
from . import test_neutralize
from . import test_partner
from . import test_posting
from . import test_security
from . import test_send
from . import test_settings
from . import test_sync
