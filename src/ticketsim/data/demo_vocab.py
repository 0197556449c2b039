"""Vocabulary and templates of the demo service-desk history.

Every paraphrase resource comes in two disjoint *families*: ``train`` wording is used for
tickets created before the held-out cutoff, ``heldout`` wording after it. The issue types
(what is broken) are shared; the way people write about them is not, so a model fine-tuned
on the older tickets can only win on the newer ones by generalising, never by memorising
templates. ``SHARED_WORDS`` lists the only tokens both families may use: function words
and canonical product names (the thing that is broken, not a way of phrasing it).

Phrases are compact ``"a|b|c"`` strings; symptoms are verb phrases that follow a system
("vpn" + "keeps dropping").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FAMILIES = ("train", "heldout")


@dataclass(frozen=True)
class Issue:
    """One underlying problem type with its symptom wording per family."""

    key: str
    train: tuple[str, ...]
    heldout: tuple[str, ...]


@dataclass(frozen=True)
class Subcategory:
    """A subcategory: its assignment group, system names per family, resolutions, issues."""

    category: str
    name: str
    group: str
    systems_train: tuple[str, ...]
    systems_heldout: tuple[str, ...]
    resolutions: tuple[str, ...]
    issues: tuple[Issue, ...]


def _p(s: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in s.split("|") if x.strip())


def _i(key: str, train: str, heldout: str) -> Issue:
    return Issue(key, _p(train), _p(heldout))


def _s(cat: str, name: str, group: str, st: str, sh: str, res: str, *issues: Issue) -> Subcategory:
    return Subcategory(cat, name, group, _p(st), _p(sh), _p(res), tuple(issues))


SUBCATEGORIES: tuple[Subcategory, ...] = (
    # ---------------------------------------------------------------- Network
    _s("Network", "VPN", "Network Operations",
       "vpn|VPN client|vpn conn|the vpn app", "remote access|GlobalProtect tunnel|remote-access link",
       "Reinstalled the VPN client and reset the profile.|Gateway certificate renewed.|Moved user to the new VPN pool.",
       _i("vpn_drops", "keeps dropping|disconnects every few mins|drops out all the time|dcs constantly",
          "cuts off repeatedly|loses the session again and again|falls over every little while"),
       _i("vpn_password", "rejects my pwd|says password wrong|won't take my pw anymore|password expired msg",
          "refuses my credentials|claims the passphrase is incorrect|denies sign-in with correct credentials"),
       _i("vpn_slow", "is super slow|very laggy|speed terrible|crawling",
          "performs sluggishly|has massive latency|moves at a snail pace")),
    _s("Network", "Wi-Fi", "Network Operations",
       "wifi|wireless|wlan|corp wifi", "wireless network|Wi-Fi hotspot|office SSID",
       "Access point rebooted.|Re-enrolled the device certificate for Wi-Fi.|Replaced faulty AP on that floor.",
       _i("wifi_no_connect", "won't connect|cant connect at all|no connection|fails to connect",
          "refuses to associate|never joins|stays unreachable"),
       _i("wifi_password", "asks for password over and over|pwd prompt keeps coming|password not accepted",
          "requests credentials endlessly|refuses the passphrase|loops on sign-in")),
    _s("Network", "LAN", "Network Operations",
       "network|internet|lan cable|network port", "wired connection|ethernet socket|floor switch",
       "Patched the port to the correct VLAN.|Switch port re-enabled.|Cable replaced.",
       _i("lan_down", "is down|not working|dead|no internet on it",
          "appears unreachable|shows zero link|gives nothing whatsoever"),
       _i("lan_slow", "really slow|slow as hell|very slow today|lagging",
          "crawls painfully|is sluggish beyond use|has huge delays")),
    # ---------------------------------------------------------------- Email
    _s("Email", "Outlook", "Messaging Team",
       "outlook|OL|outlook client|o365 mail", "Outlook desktop|mail program|Microsoft mail app",
       "Recreated the Outlook profile.|Cleared cached credentials.|Repaired Office installation.",
       _i("outlook_password", "keeps asking for password|pwd prompt loop|asks for pw every 5 min|password popup won't go away",
          "requests credentials endlessly|prompts for sign-in repeatedly|nags for the passphrase nonstop"),
       _i("outlook_crash", "crashes on start|keeps crashing|freezes and closes|not responding",
          "dies upon launch|stalls then quits|powers itself down unexpectedly"),
       _i("outlook_search", "search not working|search finds nothing|search returns no results",
          "lookup yields zero hits|cannot locate older messages|query turns up void")),
    _s("Email", "Mailbox", "Messaging Team",
       "mailbox|my email|inbox|email account", "mail storage|message store|post box",
       "Archive policy applied, quota increased.|Mailbox permissions corrected.|Mail flow rule fixed.",
       _i("mailbox_full", "is full|over quota|cant send, mailbox full|size limit reached",
          "ran out of storage space|exceeded capacity|hit its ceiling"),
       _i("mail_not_received", "not receiving emails|no new mail coming in|external emails missing",
          "gets zero incoming messages|lacks deliveries from outside|ceased accepting messages")),
    _s("Email", "Shared mailbox", "Messaging Team",
       "shared mailbox|team mailbox|shared inbox", "group mail store|departmental post box|joint message store",
       "Granted full access and send-as.|Automapping re-enabled.",
       _i("shared_access", "access denied|cant open it|no access anymore",
          "refuses entry|won't display its folders|blocks me out"),
       _i("shared_send_as", "cant send as|send as error|send on behalf fails",
          "refuses dispatch under its name|bounces my outgoing replies|declines delegated dispatch")),
    # ---------------------------------------------------------------- Accounts
    _s("Accounts", "Password reset", "Identity & Access",
       "password|AD password|my pwd|windows pw", "domain credentials|sign-in passphrase|logon secret",
       "Password reset, user informed.|Self-service reset enrolment completed.",
       _i("pw_expired", "expired|expired and cant change it|expired over the weekend",
          "has lapsed|is past its validity|ran out overnight"),
       _i("pw_reset_fail", "reset fails|reset link not working|self service reset error",
          "renewal gets refused|renewal portal throws a fault|modification attempt bounces")),
    _s("Accounts", "Account lockout", "Identity & Access",
       "account|AD account|user acct|login", "user identity|directory profile|sign-on identity",
       "Account unlocked; stale credentials removed from phone.|Unlocked and reset.",
       _i("acct_locked", "is locked|locked out again|gets locked every morning|keeps locking",
          "becomes frozen repeatedly|ends up frozen daily|is suspended out of nowhere"),
       _i("acct_disabled", "disabled after return from leave|deactivated by mistake|shows as disabled",
          "got switched off erroneously|was turned inactive while I travelled|appears inactive without reason")),
    _s("Accounts", "MFA", "Identity & Access",
       "MFA|2FA|authenticator|mfa app", "second factor|verification request|approval notification",
       "MFA methods reset, user re-registered.|New phone registered for MFA.",
       _i("mfa_new_phone", "new phone need to set up MFA|lost phone w/ authenticator|got new mobile, 2fa gone",
          "must move to a replacement handset|vanished along with my old device|needs enrolment on another smartphone"),
       _i("mfa_no_push", "push not arriving|no notification|code never comes",
          "never appears|stays silent|arrives far too late"))
    ,
    # ---------------------------------------------------------------- Printers
    _s("Printers", "Printing", "Desktop Support",
       "printer|the printer|printer on my floor|mfp", "print device|copier|communal printing unit",
       "Cleared paper jam.|Replaced fuser unit.|Printer re-added to the print server.",
       _i("printer_jam", "keeps jamming|paper jam every time|jams constantly",
          "chokes on sheets|stalls mid-page|mangles paper repeatedly"),
       _i("printer_offline", "shows offline|offline for everyone|not printing anything",
          "appears unavailable|sits idle ignoring jobs|lists as disconnected")),
    _s("Printers", "Scanner", "Desktop Support",
       "scanner|scan to email|scan function", "digitising feature|document capture|scan-to-mail option",
       "SMTP relay settings corrected on device.|Scan profile recreated.",
       _i("scan_email", "not sending scans|scan to email fails|scans never arrive",
          "loses the documents|delivers nothing|loses outgoing PDFs"),
       _i("scan_quality", "scans are blurry|lines on scans|scan quality bad",
          "produces smeared images|leaves streaks across pages|outputs grainy pages")),
    _s("Printers", "Toner", "Facilities",
       "toner|cartridge|printer ink", "consumables|ink supply|replacement supplies",
       "Toner replaced.|Supplies ordered and delivered.",
       _i("toner_low", "empty need new one|toner low|out of toner",
          "has run dry|needs restocking|is depleted")),
    # ---------------------------------------------------------------- Hardware
    _s("Hardware", "Laptop", "Desktop Support",
       "laptop|my pc|notebook|lappy", "portable computer|workstation|company machine",
       "Replaced SSD and reimaged.|BIOS updated.|Laptop swapped.",
       _i("laptop_slow", "very slow|super slow after update|takes ages to boot",
          "crawls painfully|needs forever starting up|performs sluggishly"),
       _i("laptop_no_boot", "won't turn on|doesnt boot|black screen on startup",
          "refuses to power up|stays dark when started|shows nothing upon launch"),
       _i("laptop_overheat", "gets really hot|fan loud and overheating|overheats and shuts down",
          "runs scorching|sounds like a jet engine|burns up under load")),
    _s("Hardware", "Docking station", "Desktop Support",
       "docking station|dock|usb-c dock", "port replicator|desk hub|connection base",
       "Dock firmware updated.|Dock replaced.",
       _i("dock_monitor", "external monitor not detected|no display on 2nd screen|monitors flicker",
          "leaves secondary displays dark|ignores attached screens|makes the screens blink")),
    _s("Hardware", "Peripherals", "Desktop Support",
       "keyboard|mouse|headset|webcam", "input device|audio gear|camera accessory",
       "Replacement peripheral issued.|Driver reinstalled.",
       _i("periph_broken", "not working|stopped working|broken|keys stuck",
          "has died|misbehaves badly|ceased functioning")),
    # ---------------------------------------------------------------- Software
    _s("Software", "Installation", "Desktop Support",
       "software install|installation|software center|app install", "deployment package|setup routine|application rollout",
       "Installed via Software Center.|Package re-deployed.|Admin rights granted temporarily.",
       _i("install_fail", "fails with error|won't install|install stuck at 50%",
          "aborts halfway|refuses to complete|terminates prematurely"),
       _i("install_request", "request for visio|need adobe pro installed|pls install python",
          "required for tableau|wanted for project tooling|needed for new starter")),
    _s("Software", "Licensing", "Software Asset Mgmt",
       "licence|license|office license|product key", "entitlement|subscription seat|activation",
       "License assigned.|Activation reset.",
       _i("license_expired", "expired|unlicensed product msg|says not activated",
          "has lapsed|shows subscription ended|claims entitlement absent")),
    _s("Software", "Printer driver", "Desktop Support",
       "printer driver|print driver|driver for printer", "print device software|copier software|printing utility",
       "Driver package deployed.|Universal driver installed.",
       _i("driver_install", "install fails|cant install, admin rights needed|wrong driver installed",
          "refuses to deploy|demands elevated permission|puts an incorrect version on"))
    ,
    # ---------------------------------------------------------------- ERP
    _s("ERP", "SAP login", "ERP Support",
       "SAP|SAP GUI|sap logon|SAP user", "ERP system|finance platform|ERP sign-on",
       "SAP user unlocked.|SAP password reset.|Role assignment fixed.",
       _i("sap_password", "password locked|pwd expired cant login|says wrong password",
          "blocks my credentials|claims credentials incorrect|denies entry despite right passphrase"),
       _i("sap_slow", "very slow|hangs all the time|timeouts constantly",
          "performs sluggishly|locks up frequently|stalls over and over")),
    _s("ERP", "Purchase orders", "ERP Support",
       "PO|purchase order|PO approval|po workflow", "procurement request|buying document|requisition sign-off",
       "Workflow restarted.|Approver updated in org structure.",
       _i("po_stuck", "stuck in approval|not going to approver|workflow stuck",
          "sits pending forever|never reaches my manager|remains parked"),
       _i("po_error", "error on save|cant create, error msg|fails when posting",
          "throws a fault upon submission|refuses creation|aborts while booking"))
    ,
    _s("ERP", "Invoices", "Finance Systems",
       "invoice|invoice posting|AP invoice|vendor invoice", "supplier bill|payables document|billing entry",
       "Vendor master corrected.|Posting period opened.",
       _i("invoice_block", "blocked for payment|cant post|posting error",
          "remains held|gets refused upon booking|bounces during entry")),
    # ---------------------------------------------------------------- HR systems
    _s("HR systems", "Workday", "HR Applications",
       "Workday|workday app|HR portal|workday login", "people platform|staff self-service|personnel site",
       "Security role assigned in Workday.|SSO mapping fixed.",
       _i("workday_password", "password not working|cant login pwd reset needed|says password invalid",
          "refuses my credentials|denies sign-in|refuses the passphrase"),
       _i("workday_access", "missing my team|cant see direct reports|no manager access",
          "hides staff I supervise|lacks supervisor rights|omits people under me")),
    _s("HR systems", "Payroll", "HR Applications",
       "payslip|payroll|salary slip|pay stub", "remuneration statement|compensation record|earnings document",
       "Payslip republished.|Payroll data corrected by HR.",
       _i("payslip_missing", "not showing|missing for this month|cant download",
          "hasn't appeared|is absent currently|won't open in browser"),
       _i("payslip_wrong", "amount wrong|overtime missing|tax looks wrong",
          "contains incorrect figures|omits extra hours|deducts too much")),
    _s("HR systems", "Leave", "HR Applications",
       "leave request|holiday request|annual leave|time off", "absence booking|vacation application|PTO entry",
       "Leave balance corrected.|Approval chain fixed.",
       _i("leave_stuck", "not approved stuck|approval missing|cant submit",
          "sits pending forever|never reaches my manager|declines submission")),
    # ---------------------------------------------------------------- Telephony
    _s("Telephony", "Desk phone", "Unified Comms",
       "desk phone|deskphone|ip phone|extension", "fixed handset|office telephone|VoIP set",
       "Phone re-provisioned.|Extension re-assigned.",
       _i("phone_no_dial", "no dial tone|cant make calls|dead",
          "gives silence|refuses outbound dialling|has gone quiet")),
    _s("Telephony", "Mobile phone", "Unified Comms",
       "mobile|work phone|company mobile|cell", "corporate handset|business smartphone|handheld",
       "SIM replaced.|Device enrolled in MDM.",
       _i("mobile_mail_sync", "email not syncing|mail stopped syncing|outlook app not syncing",
          "won't pull messages|shows outdated inbox|lags behind on messages"),
       _i("mobile_locked", "locked, forgot passcode|locked after updates|pin locked",
          "got frozen by incorrect code attempts|won't accept my unlock code|demands a PUK"))
    ,
    _s("Telephony", "Voicemail", "Unified Comms",
       "voicemail|vm|voice mail", "answering service|recorded messages|message box",
       "Voicemail PIN reset.|Voicemail box recreated.",
       _i("vm_pin", "pin not working|cant access, pin wrong|forgot pin",
          "declines the access code|refuses my code|needs a fresh code")),
    # ---------------------------------------------------------------- Collaboration
    _s("Collaboration", "Teams", "Unified Comms",
       "Teams|MS teams|teams app|teams client", "chat tool|meeting software|collaboration hub",
       "Cleared Teams cache.|Reinstalled Teams.|Audio device settings corrected.",
       _i("teams_audio", "no audio in calls|ppl cant hear me|mic not working in meetings",
          "gives silence during meetings|mutes me for others|loses sound on conferences"),
       _i("teams_signin", "wont sign in|sign in loop|stuck on login",
          "cycles through authentication|sits at the welcome page|never completes authentication")),
    _s("Collaboration", "SharePoint", "Collaboration Platform",
       "SharePoint|sharepoint site|team site|SP site", "intranet workspace|document portal|project space",
       "Permissions granted by site owner.|Library restored from recycle bin.",
       _i("sp_access", "access denied|cant open site|no permission",
          "refuses entry|blocks me out|shows forbidden")),
    _s("Collaboration", "OneDrive", "Collaboration Platform",
       "OneDrive|onedrive sync|OD|od client", "cloud storage|file cloud|personal cloud drive",
       "Reset OneDrive and re-synced.|Path length issue fixed.",
       _i("od_sync", "not syncing|sync stuck|sync errors red cross",
          "stalls replicating|shows pending uploads forever|stalls mid-upload"))
    ,
    # ---------------------------------------------------------------- File shares
    _s("File shares", "Network drive", "Infrastructure",
       "network drive|H drive|shared drive|S: drive", "assigned share letter|department folder|file server location",
       "Drive mapping fixed via GPO.|Share permissions corrected.",
       _i("drive_missing", "missing|not mapped|disappeared after reboot",
          "vanished|is absent following restart|won't show up"),
       _i("drive_access", "access denied|cant open folder|no permission to save",
          "refuses entry|blocks me out|forbids writing files"))
    ,
    _s("File shares", "Restore", "Infrastructure",
       "file restore|restore|deleted file|deleted folder", "recovery|recovery of lost data|previous version",
       "Restored from last night's backup.|Restored previous version.",
       _i("restore_request", "need restore pls|deleted by accident need back|overwritten file need old version",
          "required urgently|needed since data vanished|wanted for an earlier copy")),
    # ---------------------------------------------------------------- Security
    _s("Security", "Phishing", "Security Operations",
       "phishing|suspicious email|spam|phish", "fraudulent message|scam mail|dubious message",
       "Message purged from all mailboxes.|Sender blocked.|User password reset as a precaution.",
       _i("phish_report", "reporting suspicious mail|got phishing email|clicked link in phish",
          "arrived requesting my credentials|landed claiming to be payroll|tricked me into opening it")),
    _s("Security", "Malware", "Security Operations",
       "antivirus|virus|defender alert|malware", "threat protection|security scanner|endpoint protection",
       "Device isolated and scanned; clean.|Reimaged device.",
       _i("av_alert", "popup saying virus found|defender alert|virus detected",
          "flags a threat|raises a warning about infection|quarantined something"))
    ,
    _s("Security", "BitLocker", "Security Operations",
       "BitLocker|bitlocker recovery|disk encryption|recovery key", "drive encryption|encryption unlock|power-on unlock screen",
       "Provided recovery key after identity check.|TPM reset.",
       _i("bitlocker_key", "asks for recovery key|recovery screen on boot|locked asks key",
          "demands the unlock code|appears upon powering on|halts power-on requesting code")),
    # ---------------------------------------------------------------- CRM
    _s("CRM", "Salesforce", "CRM Support",
       "Salesforce|SFDC|salesforce login|crm", "customer platform|sales system|client database",
       "Profile permissions corrected.|User reactivated in Salesforce.",
       _i("sf_login", "cant login|password reset not working|login error",
          "denies sign-in|refuses my credentials|denies authentication"),
       _i("sf_report", "report shows wrong numbers|dashboard not refreshing|report empty",
          "displays incorrect figures|shows outdated charts|yields zero rows"))
    ,
    _s("CRM", "Data sync", "CRM Support",
       "CRM sync|outlook crm plugin|contact sync|calendar sync", "customer data replication|client record sync|mail integration",
       "Connector re-authorised.|Integration user password updated.",
       _i("crm_sync", "not syncing|sync stopped|duplicates after sync",
          "stalls replicating|halted updating|creates doubled records")),
    # ---------------------------------------------------------------- Facilities / AV
    _s("Facilities", "Meeting room AV", "AV & Facilities",
       "meeting room screen|room display|projector|conf room tv", "boardroom display|presentation beamer|room video system",
       "Room system rebooted.|HDMI cable replaced.",
       _i("av_no_display", "no signal|hdmi not working|screen blank",
          "shows nothing upon connecting|ignores my laptop|stays dark"))
    ,
    _s("Facilities", "Badge access", "AV & Facilities",
       "badge|access card|door badge|id card", "entry pass|door token|building pass",
       "Badge re-encoded.|Access group added.",
       _i("badge_denied", "not working on door|door wont open|access denied at entrance",
          "gets refused by readers|won't unlock gates|beeps angrily upon tapping"))
    ,
    # ---------------------------------------------------------------- Web / Intranet
    _s("Web", "Intranet", "Web Services",
       "intranet|intranet page|company portal|homepage", "staff website|internal site|employee hub",
       "Cache cleared on web tier.|Page restored.",
       _i("intranet_down", "not loading|page error 500|down",
          "appears unreachable|throws server faults|won't display")),
    _s("Web", "Browser", "Desktop Support",
       "chrome|browser|edge|web browser", "internet navigator|browsing application|page viewer",
       "Browser reset to defaults.|Certificate trust fixed.",
       _i("browser_cert", "certificate error on every site|says connection not private|ssl error",
          "warns about untrusted sites|flags insecure pages|complains about security certificates"))
    ,
    _s("Web", "SSO", "Identity & Access",
       "SSO|single sign on|sso login|okta", "unified sign-on|federated sign-in|identity portal",
       "SSO app assignment fixed.|Session cookies cleared.",
       _i("sso_loop", "login loop|keeps redirecting|sso password not accepted",
          "cycles through authentication|bounces between pages|refuses my credentials"))
    ,
    # ---------------------------------------------------------------- Dev tools
    _s("Dev tools", "Jira", "Application Support",
       "Jira|jira board|jira project|jira ticket", "issue tracker|agile board|backlog tool",
       "Project role granted.|Workflow scheme fixed.",
       _i("jira_access", "no access to project|cant see board|permission error",
          "hides the project|lacks viewing rights|shows forbidden")),
    _s("Dev tools", "Git", "Application Support",
       "git|gitlab|repo|git push", "source control|code hosting|version control",
       "SSH key re-registered.|Token renewed.",
       _i("git_auth", "auth failed|push rejected password|token expired",
          "denies authentication|refuses my credentials|blocks uploads of code"))
    ,
)

# ------------------------------------------------------------------ templates
# Short-description templates: {system} {symptom}; {detail} is the group's salient fact.
SHORT_TEMPLATES: dict[str, dict[str, str]] = {
    "train": {
        "TS01": "{system} {symptom}",
        "TS02": "{system} - {symptom}",
        "TS03": "pls help: {system} {symptom}",
        "TS04": "issue w/ {system}, {symptom}",
        "TS05": "{system} {symptom} ({detail})",
        "TS06": "URGENT {system} {symptom}",
    },
    "heldout": {
        "HS01": "Problem: {system} {symptom}",
        "HS02": "{system} {symptom} - need assistance",
        "HS03": "Letting you know that {system} {symptom}",
        "HS04": "Request for support | {system} {symptom}",
        "HS05": "[{detail}] {system} {symptom}",
    },
}

# Description templates. Long ones add an opener, time, detail, what was tried, impact.
DESCRIPTION_TEMPLATES: dict[str, dict[str, str]] = {
    "train": {
        "TD01": "{system} {symptom}.",
        "TD02": "{opener} {system} {symptom} {when}. {detail_sentence} {tried}. {impact}.",
        "TD03": "{system} {symptom}. {detail_sentence}",
        "TD04": "{opener} as per subject. {detail_sentence} {tried}.",
        "TD05": "{opener} {system} {symptom} {when}, {impact}. {detail_sentence}",
    },
    "heldout": {
        "HD01": "{detail_sentence} {system} {symptom}.",
        "HD02": "{opener} I noticed {system} {symptom} {when}. {detail_sentence} {tried}. {impact}.",
        "HD03": "{opener} see title. {impact}. {detail_sentence}",
        "HD04": "{system} {symptom} {when}; {tried}. {detail_sentence}",
    },
}

PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "train": {
        "opener": _p("Hi team,|Hello,|Hi IT,|hi all,"),
        "when": _p("since this morning|since yesterday|since the weekend|since monday"),
        "tried": _p("already restarted|rebooted twice, no change|tried logging off and on|cleared cache already"),
        "impact": _p("I cant work|whole team affected|pls fix asap|blocking my work"),
        "detail_site": _p("location: {site}|site {site}|at {site}"),
        "detail_asset": _p("asset {asset}|laptop tag {asset}|device {asset}"),
        "detail_code": _p("error {code}|err code {code}|msg says {code}"),
    },
    "heldout": {
        "opener": _p("Good morning,|Dear service desk,|Hey support,|Greetings,"),
        "when": _p("from about 9am today|starting last night|for two days now|ever since Friday"),
        "tried": _p("turning it off and on did nothing|a restart made zero difference|signing out then in did not help"),
        "impact": _p("this is holding me up|several colleagues see it too|need it sorted urgently|deadline today"),
        "detail_site": _p("I'm based in {site}|office: {site}|sitting in {site}"),
        "detail_asset": _p("device tag {asset}|machine {asset}|hostname {asset}"),
        "detail_code": _p("message shows {code}|code displayed {code}|dialog reads {code}"),
    },
}

# Abbreviation / typo style rewrites applied to whole words, per family (disjoint).
ABBREVIATIONS: dict[str, dict[str, str]] = {
    "train": {"password": "pwd", "message": "msg", "people": "ppl", "account": "acct",
              "connection": "conn", "yesterday": "yday", "minutes": "mins"},
    "heldout": {"credentials": "creds", "colleagues": "collegues", "urgently": "urgntly",
                "repeatedly": "repeatdly", "passphrase": "passphr"},
}

# Group-specific facts (not wording): shared pools, drawn per group.
SITES = _p(
    "Leeds office|Munich HQ|Block B 3rd floor|Warehouse 2|Lyon branch|London Canary Wharf|"
    "Dublin 4th floor|Madrid office|Rotterdam DC|Block A ground floor|Krakow centre|"
    "Milan showroom|Oslo office|Zurich floor 2|Prague service centre|Berlin lab"
)
NAMES = _p(
    "Anna|Ben|Carla|David|Emma|Farid|Grace|Hugo|Ines|Jonas|Kim|Lena|Marco|Nora|Omar|Paula|"
    "Raj|Sofia|Tom|Ulla|Victor|Wen|Yusuf|Zoe"
)
SURNAMES = _p("Smith|Meyer|Rossi|Novak|Garcia|Jansen|Kowalski|Dubois|Berg|Silva|Murphy|Costa")

# Tokens both families may contain: function words and canonical product names.
SHARED_WORDS = frozenset(_p(
    "a|an|the|my|me|i|you|is|it|on|in|of|to|for|and|or|at|as|by|from|not|no|with|on|s|t|m|"
    "be|are|was|all|this|that|up|off|new|need|get|got|can|cant|after|every|out|our|"
    "vpn|wifi|outlook|sap|workday|teams|sharepoint|onedrive|salesforce|jira|git|gitlab|"
    "bitlocker|okta|sso|mfa|o365|microsoft|globalprotect|chrome|edge|office|pdf|pdfs|"
    "ssid|hdmi|usb|c|ap|po|voip|puk|pin|tv|h|drive|d|e|"
    # generic words
    "again|when|since|over|never|nothing|see|won|gets|shows|today|morning|set|old|open|down|"
    "gone|lost|help|issue|request|needed|self|service|"
    # canonical nouns naming the thing that is broken (the issue, not its wording)
    "laptop|network|internet|intranet|payroll|scanner|browser|software|device|mail|inbox|"
    "meeting|meetings|room|door|page|paper|screen|file|folder|project|manager|user|company|"
    "site|portal|key|code|token|recovery|encryption|version|audio|notification|display|ink|"
    "port|desk|print|printing|scan|wireless|sync|access|approval|board|client|app|link|"
    "connection|floor|location|tag|logon|sign|rights|permission|post"
))


def _tokens(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", re.sub(r"\{[a-z_]+\}", " ", text.lower())))


def family_phrases(family: str) -> set[str]:
    """Every paraphrase string of one family: systems, symptoms, templates, phrasing pools."""
    out: set[str] = set()
    for sub in SUBCATEGORIES:
        out.update(sub.systems_train if family == "train" else sub.systems_heldout)
        for issue in sub.issues:
            out.update(issue.train if family == "train" else issue.heldout)
    out.update(SHORT_TEMPLATES[family].values())
    out.update(DESCRIPTION_TEMPLATES[family].values())
    for pool in PHRASES[family].values():
        out.update(pool)
    out.update(ABBREVIATIONS[family].values())
    return out


def family_words(family: str) -> set[str]:
    """Family-specific tokens of :func:`family_phrases`, without :data:`SHARED_WORDS`."""
    words: set[str] = set()
    for phrase in family_phrases(family):
        words |= _tokens(phrase)
    return words - SHARED_WORDS


TRAIN_WORDS = frozenset(family_words("train"))
HELDOUT_WORDS = frozenset(family_words("heldout"))
