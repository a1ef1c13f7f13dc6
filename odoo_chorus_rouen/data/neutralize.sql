-- A neutralized copy of the database (odoo-bin neutralize) must never reach the production
-- Chorus Pro platform: every company goes back to qualification and loses its secrets.
UPDATE res_company
   SET chorus_pro_environment = 'qualification',
       chorus_pro_client_secret = NULL,
       chorus_pro_password = NULL;
