"""Fixed vocabularies of the catalog: kinds, statuses, access rules and amenities.

The migration ``0001_catalog.sql`` repeats these lists in CHECK constraints so the
database refuses anything else; ``tests/catalog/test_vocab.py`` keeps the two in step.
Labels are what riders and planners read (Chinese first, English second).
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    LOVE_STATION = "love_station"  # 爱心驿站: a rest station, may also hand out water
    WATER_POINT = "water_point"  # 派水站点: a summer free-water point


class Status(StrEnum):
    ACTIVE = "active"
    TEMPORARILY_CLOSED = "temporarily_closed"
    CLOSED = "closed"


class Access(StrEnum):
    OPEN_TO_ALL = "open_to_all"
    MEMBERS_ONLY = "members_only"  # union members show their card or scan in
    CUSTOMERS_ONLY = "customers_only"  # inside a shop or bank branch
    KEY_OR_APP = "key_or_app"  # locked cabin opened by key, card or app


# Order matters: the position is the bit used by the in-memory search index.
AMENITIES: dict[str, tuple[str, str]] = {
    "drinking_water": ("饮用水", "drinking water"),
    "hot_water": ("热水", "hot water"),
    "restroom": ("卫生间", "restroom"),
    "seating": ("座椅", "seating"),
    "shade": ("遮阳避雨", "shade and shelter"),
    "air_conditioning": ("空调", "air conditioning"),
    "heating": ("取暖", "heating"),
    "phone_charging": ("手机充电", "phone charging"),
    "ebike_charging": ("电动车充电", "e-bike charging"),
    "microwave": ("微波炉", "microwave"),
    "refrigerator": ("冰箱", "refrigerator"),
    "first_aid": ("急救药箱", "first aid"),
    "umbrella": ("爱心雨伞", "umbrella loan"),
    "wifi": ("无线网络", "Wi-Fi"),
    "accessible": ("无障碍", "step-free access"),
    "tire_pump": ("打气筒", "tyre pump"),
    "repair_tools": ("维修工具", "repair tools"),
    "sewing_kit": ("针线包", "sewing kit"),
    "lockers": ("储物柜", "lockers"),
    "handwashing": ("洗手池", "hand washing"),
}

AMENITY_BITS: dict[str, int] = {name: 1 << i for i, name in enumerate(AMENITIES)}

KIND_LABELS: dict[Kind, tuple[str, str]] = {
    Kind.LOVE_STATION: ("爱心驿站", "love station"),
    Kind.WATER_POINT: ("派水站点", "water point"),
}

STATUS_LABELS: dict[Status, tuple[str, str]] = {
    Status.ACTIVE: ("正常开放", "active"),
    Status.TEMPORARILY_CLOSED: ("暂停服务", "temporarily closed"),
    Status.CLOSED: ("已撤销", "closed"),
}

ACCESS_LABELS: dict[Access, tuple[str, str]] = {
    Access.OPEN_TO_ALL: ("向所有户外劳动者开放", "open to all"),
    Access.MEMBERS_ONLY: ("限工会会员", "union members only"),
    Access.CUSTOMERS_ONLY: ("限顾客", "customers only"),
    Access.KEY_OR_APP: ("刷卡或扫码开门", "key, card or app"),
}


def amenity_mask(names: list[str] | tuple[str, ...] | set[str]) -> int:
    """The bit mask of a set of amenity names (unknown names raise KeyError)."""
    mask = 0
    for name in names:
        mask |= AMENITY_BITS[name]
    return mask


# --- members and visits (migration 0003_visits.sql repeats these in CHECKs) ----------


class MemberStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"  # membership lapsed or under review: no tokens, no claims


# What union members do for a living, as the member database records it.
OCCUPATIONS: dict[str, tuple[str, str]] = {
    "courier": ("快递员", "parcel courier"),
    "food_delivery": ("外卖骑手", "food-delivery rider"),
    "ride_hailing": ("网约车司机", "ride-hailing driver"),
    "truck_driver": ("货车司机", "truck driver"),
    "sanitation": ("环卫工人", "sanitation worker"),
    "security_guard": ("保安员", "security guard"),
    "construction": ("建筑工人", "construction worker"),
    "domestic_service": ("家政服务员", "domestic service worker"),
    "other": ("其他", "other"),
}

# One-tap rating tags. The last group are reports that a listing is wrong: several
# members sending them lower the station's freshness and queue it for review.
RATING_TAGS: dict[str, tuple[str, str]] = {
    "clean": ("干净整洁", "clean"),
    "water_available": ("有水供应", "water available"),
    "friendly": ("服务热情", "friendly staff"),
    "comfortable": ("凉爽舒适", "comfortable"),
    "easy_to_find": ("位置好找", "easy to find"),
    "crowded": ("人多拥挤", "crowded"),
    "dirty": ("卫生较差", "not clean"),
    "hard_to_find": ("位置难找", "hard to find"),
    "broken_equipment": ("设备损坏", "broken equipment"),
    "closed_when_listed_open": ("显示开放但实际关闭", "closed although listed open"),
    "no_water": ("没有水", "no water"),
}

REVIEW_TAGS: frozenset[str] = frozenset({"closed_when_listed_open", "no_water"})
"""Tags that report the listing itself as wrong (they feed the review queue)."""
