// The administrator's pages, loaded when one of them is first opened (main.js registers
// their routes as placeholders): an operator's phone never downloads them. Importing
// this module registers the real views in the placeholders' places (router.js).

import "./accounts.js";
import "./campaign_form.js"; // before campaigns.js: "/admin/campaigns/new" before ":id"
import "./campaigns.js";
import "./uploads.js";
