// Words of the rider page, Chinese first. Labels of the fixed vocabularies (amenities,
// kinds, access rules, rating tags) come from the service (stations/vocab.py) in the
// page's config, so they are written in one place only.

const STRINGS = {
  zh: {
    title: "爱心驿站",
    page_title: "爱心驿站 · 一键找站",
    switch_lang: "EN",
    switch_lang_label: "Switch to English",
    sign_in: "登录",
    sign_out: "退出",
    signed_in_as: "会员 {no}",
    sign_out_label: "退出登录（会员 {no}）",
    sign_in_title: "会员登录",
    sign_in_why: "用工会会员号和登记的手机号登录，仅在本次浏览中保持登录。",
    member_no: "会员号",
    phone: "手机号",
    cancel: "取消",
    signing_in: "正在登录…",
    sign_in_needed: "请先登录，再领水、签到或评价。",
    nearby: "附近站点",
    nearest_open: "找最近的开放站点",
    filters: "筛选",
    f_water: "饮用水",
    f_toilet: "卫生间",
    f_open: "正在开放",
    f_cooling: "空调纳凉",
    f_heating: "取暖",
    map: "站点地图",
    locating: "正在获取你的位置…",
    searching: "正在查找附近站点…",
    no_position: "无法获取位置：{why}。请允许浏览器使用位置，然后点“找最近的开放站点”。",
    geo_denied: "没有位置权限",
    geo_unavailable: "定位不可用",
    geo_timeout: "定位超时",
    offline_cached: "网络不可用，显示的是{age}的结果。",
    offline_none: "网络不可用，也没有保存的结果。请稍后再试。",
    age_now: "刚才",
    age_min: "{n} 分钟前",
    age_hour: "{n} 小时前",
    age_day: "{n} 天前",
    none_found: "附近没有符合条件的站点。试试去掉一些筛选。",
    more: "再显示 {n} 个站点",
    rating_line: "★ {mean}（{count} 人评价）",
    water_left: "今日余水 {n} 瓶",
    water_none: "今日的水已发完",
    none_open: "附近没有正在开放的站点。",
    metres: "{n} 米",
    km: "{n} 公里",
    walk: "步行约 {t}",
    ride: "电动车约 {t}",
    minutes: "{n} 分钟",
    estimate_note:
      "时间按直线距离估算（步行 {walk} 公里/小时，电动车 {ebike} 公里/小时），实际路程会更长。",
    open_until: "营业中 · 至 {time}",
    open_247: "营业中 · 24 小时",
    open_unknown: "营业时间未知",
    closed_opens: "已关闭 · {time} 开门",
    closed: "已关闭",
    tomorrow: "明天 {time}",
    on_date: "{month}月{day}日 {time}",
    back: "← 返回附近站点",
    station_code: "站点编号 {code}",
    hours_week: "近 7 天营业时间",
    amenities: "服务设施",
    directions: "导航到这里",
    amap: "高德地图",
    baidu: "百度地图",
    other_map: "其他地图应用",
    call: "拨打 {phone}",
    claim: "领取饮用水",
    check_in: "到站签到",
    claiming: "正在领取…",
    checking_in: "正在签到…",
    retrying: "网络不稳定，{s} 秒后重试（第 {n} 次）…",
    still_pending: "还没有收到结果。这次领取已保存，网络恢复后会自动重发，不会重复领取。",
    retry_now: "立即重试",
    need_position: "需要你的位置才能确认你在站点：请允许浏览器使用位置。",
    claim_code: "领水码",
    show_staff: "请把领水码给工作人员看",
    prize: "恭喜中奖：{prize}",
    claim_facts: "{station} · {time} · 今日已领 {n}/{quota}",
    replayed: "这是刚才那次领取的结果（没有重复领取）。",
    checked_in: "已签到：{station} · {time}",
    refused_title: "没有成功",
    rate_title: "评价这次到访",
    rate_until: "到访后 24 小时内可评价（至 {time}）。点星星即提交，再点一次可修改。",
    rate_stars: "{n} 星",
    rate_tags: "印象标签（可选）",
    rated: "已提交 {n} 星，谢谢！",
    rate_sign_in: "登录后，在站点扫码签到或领水，就能评价。",
    rate_loading: "正在查询能否评价…",
    rating_summary: "{count} 人评价，平均 {mean} 星",
    kind_love_station: "爱心驿站",
    network_error: "网络不可用，请稍后再试。",
    r_quota_used: "你今天已经领过 {quota} 瓶了，明天再来。",
    r_out_of_stock: "这个站点今天的水已经发完了，请去附近其他派水点。",
    r_out_of_stock_unset: "这个站点今天还没有登记水量，请问工作人员。",
    r_outside_geofence:
      "你离站点约 {distance} 米，要在 {radius} 米以内才能领取。请到站点后再扫码。",
    r_outside_geofence_checkin:
      "你离站点约 {distance} 米，要在 {radius} 米以内才能签到。请到站点后再扫码。",
    r_campaign_closed_hours: "这里每天 {from}–{to} 发水，请在这个时间来。",
    r_campaign_closed: "这个站点今天没有送水活动。",
    r_station_not_in_campaign: "这个站点没有参加今天的送水活动，请找附近参加活动的派水点。",
    r_station_closed: "这个站点暂停服务，今天不发水。",
    r_member_suspended: "你的工会会员资格已暂停，请联系所在工会。",
    r_invalid_code: "这个二维码无效或被改动过，请扫描站点现场张贴的二维码。",
    r_code_retired: "这张海报的二维码已经停用，请向工作人员要新的二维码。",
    r_idempotency_key_reused: "这次请求和之前的冲突了，请再点一次。",
    r_no_recent_visit: "在这个站点扫码签到或领水后，24 小时内才能评价。",
    r_unauthorized: "登录已失效，请重新登录。",
    r_bad_login: "会员号和手机号对不上，请检查，或请所在工会核对登记信息。",
    r_unknown: "没有成功：{detail}",
  },
  en: {
    title: "Love Stations",
    page_title: "Love Stations · find a station",
    switch_lang: "中文",
    switch_lang_label: "切换到中文",
    sign_in: "Sign in",
    sign_out: "Sign out",
    signed_in_as: "Member {no}",
    sign_out_label: "Sign out (member {no})",
    sign_in_title: "Member sign-in",
    sign_in_why:
      "Sign in with your union member number and the phone number you registered. You stay signed in until you close this page.",
    member_no: "Member number",
    phone: "Mobile number",
    cancel: "Cancel",
    signing_in: "Signing in…",
    sign_in_needed: "Please sign in first to claim water, check in or rate.",
    nearby: "Stations nearby",
    nearest_open: "Nearest open station",
    filters: "Filters",
    f_water: "Water",
    f_toilet: "Toilet",
    f_open: "Open now",
    f_cooling: "Cooling",
    f_heating: "Heating",
    map: "Map of stations",
    locating: "Finding your position…",
    searching: "Looking for stations nearby…",
    no_position:
      "Your position is not available: {why}. Allow this page to use your location, then tap “Nearest open station”.",
    geo_denied: "permission denied",
    geo_unavailable: "location unavailable",
    geo_timeout: "timed out",
    offline_cached: "No network: showing results from {age}.",
    offline_none: "No network and no saved results yet. Please try again later.",
    age_now: "just now",
    age_min: "{n} minutes ago",
    age_hour: "{n} hours ago",
    age_day: "{n} days ago",
    none_found: "No station nearby matches. Try fewer filters.",
    more: "Show {n} more stations",
    rating_line: "★ {mean} ({count} ratings)",
    water_left: "{n} bottles left today",
    water_none: "No water left today",
    none_open: "No open station nearby.",
    metres: "{n} m",
    km: "{n} km",
    walk: "walk ~{t}",
    ride: "e-bike ~{t}",
    minutes: "{n} min",
    estimate_note:
      "Times are estimates from straight-line distance (walking {walk} km/h, e-bike {ebike} km/h); real routes are longer.",
    open_until: "Open · until {time}",
    open_247: "Open · 24 hours",
    open_unknown: "Hours not known",
    closed_opens: "Closed · opens {time}",
    closed: "Closed",
    tomorrow: "tomorrow {time}",
    on_date: "{day}/{month} {time}",
    back: "← Back to stations nearby",
    station_code: "Station code {code}",
    hours_week: "Hours, next 7 days",
    amenities: "Facilities",
    directions: "Directions",
    amap: "Amap",
    baidu: "Baidu Maps",
    other_map: "Other map app",
    call: "Call {phone}",
    claim: "Claim water",
    check_in: "Check in",
    claiming: "Claiming…",
    checking_in: "Checking in…",
    retrying: "Network trouble: retrying in {s} s (attempt {n})…",
    still_pending:
      "No answer yet. This claim is kept and will be sent again when the network is back; you will not get it twice.",
    retry_now: "Retry now",
    need_position: "Your position is needed to confirm you are at the station: allow location.",
    claim_code: "Claim code",
    show_staff: "Show this code to the staff",
    prize: "You won: {prize}",
    claim_facts: "{station} · {time} · today {n}/{quota}",
    replayed: "This is the answer to your earlier tap (nothing was claimed twice).",
    checked_in: "Checked in: {station} · {time}",
    refused_title: "Not this time",
    rate_title: "Rate your visit",
    rate_until:
      "You can rate until {time} (24 hours after your visit). Tap a star to send; tap again to change.",
    rate_stars: "{n} stars",
    rate_tags: "Tags (optional)",
    rated: "Sent: {n} stars. Thank you!",
    rate_sign_in: "Sign in, then check in or claim water at the station to rate it.",
    rate_loading: "Checking whether you can rate…",
    rating_summary: "{count} ratings, {mean} stars on average",
    kind_love_station: "Love station",
    network_error: "No network. Please try again later.",
    r_quota_used: "You have already claimed your {quota} bottle(s) today. Come back tomorrow.",
    r_out_of_stock: "This station has no bottles left today. Try another water point nearby.",
    r_out_of_stock_unset: "This station has not set today's water yet. Please ask the staff.",
    r_outside_geofence:
      "You are about {distance} m from the station; claims are accepted within {radius} m. Scan again at the station.",
    r_outside_geofence_checkin:
      "You are about {distance} m from the station; check-ins are accepted within {radius} m. Scan again at the station.",
    r_campaign_closed_hours: "Water is handed out here from {from} to {to}. Please come back then.",
    r_campaign_closed: "No water campaign runs at this station today.",
    r_station_not_in_campaign:
      "This station is not part of today's water campaign. Look for a participating water point nearby.",
    r_station_closed: "This station is closed for now and hands out no water.",
    r_member_suspended: "Your union membership is suspended. Please contact your union branch.",
    r_invalid_code:
      "This QR code is not valid or was altered. Scan the code posted at the station.",
    r_code_retired: "This poster's QR code has been retired. Ask the staff for the new one.",
    r_idempotency_key_reused: "This request clashed with an earlier one. Please tap again.",
    r_no_recent_visit:
      "You can rate a station within 24 hours of checking in or claiming water there.",
    r_unauthorized: "Your sign-in has expired. Please sign in again.",
    r_bad_login:
      "Member number and phone do not match. Check both, or ask your union branch to check your registration.",
    r_unknown: "That did not work: {detail}",
  },
};

let current = "zh";

export function setLang(lang) {
  current = lang === "en" ? "en" : "zh";
  document.documentElement.lang = current === "en" ? "en" : "zh-CN";
  document.title = t("page_title");
}

export function lang() {
  return current;
}

// t("walk", {t: "5 分钟"}) → "步行约 5 分钟"
export function t(key, vars = {}) {
  const text = STRINGS[current][key] ?? STRINGS.zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

export function has(key) {
  return key in STRINGS[current];
}

// A vocabulary label: [zh, en] from the config.
export function label(pair, fallback) {
  if (!pair) return fallback;
  return current === "en" ? pair[1] : pair[0];
}

// Static text marked in the HTML: data-t (text) and data-t-label (aria-label).
export function translateDocument(root = document) {
  for (const el of root.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  for (const el of root.querySelectorAll("[data-t-label]")) {
    el.setAttribute("aria-label", t(el.dataset.tLabel));
  }
}
