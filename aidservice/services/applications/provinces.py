"""Provinces other than Jiangsu, where a declared status was granted: division codes (GB/T 2260, first two
digits) and names, so an officer may type 安徽, 安徽省, 34 or 340000 and the service keeps `34`.

Jiangsu (32) is not among them: a Jiangsu status comes from the Jiangsu agencies' records, never a declaration.
Hong Kong, Macao and Taiwan have no 建档立卡, 低保 or 特困 status of the mainland and are not listed.
"""

from __future__ import annotations

HOME_PROVINCE = "32"
HOME_NAME = "江苏省"

PROVINCES: dict[str, tuple[str, str]] = {
    "11": ("北京市", "北京"),
    "12": ("天津市", "天津"),
    "13": ("河北省", "河北"),
    "14": ("山西省", "山西"),
    "15": ("内蒙古自治区", "内蒙古"),
    "21": ("辽宁省", "辽宁"),
    "22": ("吉林省", "吉林"),
    "23": ("黑龙江省", "黑龙江"),
    "31": ("上海市", "上海"),
    "33": ("浙江省", "浙江"),
    "34": ("安徽省", "安徽"),
    "35": ("福建省", "福建"),
    "36": ("江西省", "江西"),
    "37": ("山东省", "山东"),
    "41": ("河南省", "河南"),
    "42": ("湖北省", "湖北"),
    "43": ("湖南省", "湖南"),
    "44": ("广东省", "广东"),
    "45": ("广西壮族自治区", "广西"),
    "46": ("海南省", "海南"),
    "50": ("重庆市", "重庆"),
    "51": ("四川省", "四川"),
    "52": ("贵州省", "贵州"),
    "53": ("云南省", "云南"),
    "54": ("西藏自治区", "西藏"),
    "61": ("陕西省", "陕西"),
    "62": ("甘肃省", "甘肃"),
    "63": ("青海省", "青海"),
    "64": ("宁夏回族自治区", "宁夏"),
    "65": ("新疆维吾尔自治区", "新疆"),
}
"""Province code -> (full name, short name)."""

_BY_NAME = {name: code for code, names in PROVINCES.items() for name in names}


class ProvinceRefused(ValueError):
    """Not another province: the message says why, in Chinese."""


def province_code(value: object) -> str:
    """The two-digit code of another province, from its code (34, 340000, any division code in it) or name."""
    text = str(value if value is not None else "").strip()
    if not text:
        raise ProvinceRefused("请填写出具证明的省份（名称或行政区划代码）")
    if len(text) > 32:
        raise ProvinceRefused("省份名称过长")
    if text.isascii() and text.isdigit() and len(text) in (2, 6):
        code = text[:2]
    else:
        code = _BY_NAME.get(text, "")
        if not code and text in (HOME_NAME, HOME_NAME[:-1]):
            code = HOME_PROVINCE
    if code == HOME_PROVINCE:
        raise ProvinceRefused("须为江苏以外的省份：本省身份以江苏各部门的数据为准，无需申报")
    if code not in PROVINCES:
        raise ProvinceRefused(f"不是可识别的省份：{text}（填写如“安徽”或“340000”）")
    return code


def province_name(code: str) -> str:
    return PROVINCES.get(code, (code, code))[0]
