"""回避 (``services.conflict``): whom a complaint is about, read from the words people use."""

from __future__ import annotations

from sqlmodel import Session, select

from services.conflict import complained_about
from storage.models import Grid

COMPLAINTS_ABOUT_STAFF = {
    "网格员王芳上门时态度很差": {"王芳"},
    "王网格员说话难听，还给人脸色看": {"王芳"},
    "你们社区的工作人员办事推诿，踢皮球": {"王芳"},
    "我要投诉网格员，叫她办的事一直拖着": {"王芳"},
    "网格长周杰不作为，反映多次没人管": {"周杰"},
    "网格长爱答不理的，网格员也敷衍": {"王芳", "周杰"},
    "楼上装修太吵，物业工作人员态度也差": set(),
    "快递小哥态度很差，东西乱扔在楼道": set(),
    "网格员帮忙联系了物业，但物业一直不来修": set(),
    "我告诉网格员了，物业还是不来修": set(),
    "网格员说物业态度很差，让我们直接投诉物业": set(),
    "态度恶劣的网格员，我要求换人": {"王芳"},
}


def test_who_a_complaint_is_about(community):
    with Session(community) as s:
        grid = s.exec(select(Grid).where(Grid.code == "G01")).one()
        found = {text: {p.name for p in complained_about(s, text, grid.id)}
                 for text in COMPLAINTS_ABOUT_STAFF}
    assert found == COMPLAINTS_ABOUT_STAFF
