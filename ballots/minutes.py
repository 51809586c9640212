"""The counting minutes (BIÊN BẢN KIỂM PHIẾU) of a round as an A4 PDF, drawn from its result document.

The minutes say in Vietnamese what the result document (format trustvote.result/1, see results.py) says in
numbers, as Party election minutes do: the organisation, conference and date; the counting board; the numbers
convened, present and absent; the ballots issued, collected, valid and invalid with the reasons; the sheets
set aside as duplicates and those the board ruled on; the base of the percentages in words; per person the
counts, the percentages (rounded half up to two decimals, decimal comma) and the thresholds crossed with the
consequence the rule set names; the anomalies and the board's ruling; the time; the approvals; the signatures.

Text is set in Be Vietnam Pro, embedded, through printing.py's helpers, so the diacritics print exactly.
A minutes PDF is a draft (every page marked "DỰ THẢO – chưa niêm phong", no QR) until it is drawn with the
signed envelope of its document; then it carries a QR code whose payload (format 1) is

    trustvote.result/1 sha256=<SHA-256 of the canonical document, hex> key=<fingerprint of the signing key, hex>

and both fingerprints in text, in groups of four, so that anyone holding the signed JSON and the committee's
public key can check that the paper and the signed result are the same, by camera or by reading aloud.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import partial
from io import BytesIO
from xml.sax.saxutils import escape

import zxingcpp
from PIL import Image as PILImage
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from . import fonts, results, signing
from .fonts import font
from .minutes_pages import BOTTOM, MARGIN, TOP, NumberedCanvas, page_background
from .formats import canonical_json
from .rules import THRESHOLDS, RuleSet
from .rules import recorded as recorded_rule_set
from .tally import BAD_MARKS, CROSSED_OUT, EXTRA_WRITING, NOT_ISSUED, CandidateCount, named_consequences, percent
from .words import BASE_WORDS, DUPLICATE_WORDS, MARK_WORDS, REASON_WORDS, THRESHOLD_WORDS

QR_FORMAT = "trustvote.result/1"
QR_LEVEL = "M"  # the payload is 160 bytes; M keeps the symbol small enough for modules of 0.5 mm at 35 mm
QR_WIDTH = 35 * mm
# Times on the minutes are Vietnam's (UTC+7 all year, no daylight saving): a fixed offset needs no tz database.
VIETNAM = dt.timezone(dt.timedelta(hours=7))




def result_fingerprint(document: dict) -> str:
    """The SHA-256 (hex) of the canonical JSON of a result document: what its signature covers."""
    return results.digest_of(canonical_json(document))


def qr_payload(document: dict, key_fingerprint: str) -> str:
    """The minutes' QR payload (format 1, see the module docstring)."""
    return f"{QR_FORMAT} sha256={result_fingerprint(document)} key={key_fingerprint}"


def grouped_hex(value: str, per_line: int = 8) -> list[str]:
    """A hex string in groups of four, `per_line` groups a line: easy to read aloud and to compare."""
    groups = [value[i:i + 4] for i in range(0, len(value), 4)]
    return [" ".join(groups[i:i + per_line]) for i in range(0, len(groups), per_line)]


def number(value: int) -> str:
    """An integer the Vietnamese way: a dot between thousands (1.234)."""
    return f"{value:,}".replace(",", ".")


def share(count: int, base: int) -> str:
    """count/base as tally.percent rounds it, written the Vietnamese way: "51,52%" (and "—" for no base)."""
    value = percent(count, base)
    if value == "—":
        return value
    whole, decimals = value.split(".")
    return f"{number(int(whole))},{decimals}%"


def date_words(day: dt.date) -> str:
    return f"ngày {day.day:02d} tháng {day.month:02d} năm {day.year}"


def minutes_pdf(document: dict, *, signed: dict | None = None) -> bytes:
    """The minutes of the round whose result document is given, as PDF bytes.

    Without `signed` the PDF is a draft: marked on every page, no QR. With the signed envelope of this very
    document (results.sign_document) it carries the QR and fingerprints. Raises ValueError when the envelope
    is of another document, its signature does not verify or its fingerprint is not its key's.
    """
    if signed is not None:
        _check_envelope(document, signed)
    fonts.register()
    out = BytesIO()
    round_info = document["round"]
    footer = f"Biên bản kiểm phiếu – đợt lấy phiếu số {round_info['id']}"
    if signed is not None:
        footer += f" – mã kết quả {grouped_hex(result_fingerprint(document), 4)[0]} …"
    doc = SimpleDocTemplate(
        out, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=TOP, bottomMargin=BOTTOM,
        title=f"Biên bản kiểm phiếu – {round_info['committee']}", author=round_info["committee"],
        subject=round_info["title"], creator="TrustVote", pageCompression=1,
    )
    draft = signed is None
    doc.build(
        _story(document, signed, doc.width),
        onFirstPage=partial(page_background, draft=draft),
        onLaterPages=partial(page_background, draft=draft),
        canvasmaker=partial(NumberedCanvas, footer=footer),
    )
    return out.getvalue()


def _check_envelope(document: dict, signed: dict) -> None:
    message = canonical_json(signed["result"]).encode()
    if message != canonical_json(document).encode():
        raise ValueError("the signed envelope is of another result document")
    public_key = bytes.fromhex(signed["public_key"])
    if not signing.verify(public_key, message, signed["signature"]):
        raise ValueError("the signature of the envelope does not verify")
    if hashlib.sha256(public_key).hexdigest() != signed["fingerprint"]:
        raise ValueError("the envelope's fingerprint is not its public key's")


# --- content ----------------------------------------------------------------------------------------------


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=font("regular"), fontSize=10.5, leading=14.5, alignment=TA_JUSTIFY,
                          spaceAfter=2)
    centred = partial(ParagraphStyle, parent=base, alignment=TA_CENTER, spaceAfter=0)
    return {
        "body": base,
        "item": ParagraphStyle("item", parent=base, leftIndent=6 * mm, firstLineIndent=0),
        "sub": ParagraphStyle("sub", parent=base, leftIndent=12 * mm, spaceAfter=0),
        "heading": ParagraphStyle("heading", parent=base, fontName=font("bold"), spaceBefore=6, spaceAfter=3),
        "note": ParagraphStyle("note", parent=base, fontName=font("italic"), fontSize=9.5, leading=13),
        "header": centred("header", fontSize=10.5, leading=13.5),
        "header_bold": centred("header_bold", fontName=font("bold"), fontSize=10.5, leading=13.5),
        "party": centred("party", fontName=font("bold"), fontSize=11.5, leading=14),
        "date": centred("date", fontName=font("italic"), fontSize=10.5, leading=13.5),
        "title": centred("title", fontName=font("bold"), fontSize=16, leading=20, spaceBefore=10),
        "subtitle": centred("subtitle", fontName=font("semibold"), fontSize=12, leading=15.5),
        "centred": centred("centred", fontSize=10.5, leading=14),
        "cell": ParagraphStyle("cell", parent=base, fontSize=9, leading=11, alignment=0, spaceAfter=0),
        "cell_name": ParagraphStyle("cell_name", parent=base, fontName=font("semibold"), fontSize=9, leading=11,
                                    alignment=0, spaceAfter=0),
        "cell_head": centred("cell_head", fontName=font("bold"), fontSize=8.5, leading=10.5),
        "cell_flag": ParagraphStyle("cell_flag", parent=base, fontName=font("italic"), fontSize=8.5, leading=10.5,
                                    alignment=0, spaceAfter=0),
        "sign": centred("sign", fontName=font("bold"), fontSize=11, leading=14),
        "sign_note": centred("sign_note", fontName=font("italic"), fontSize=9.5, leading=12),
        "fingerprint_label": centred("fingerprint_label", fontSize=8, leading=10),
        "fingerprint": centred("fingerprint", fontName="Courier", fontSize=8.5, leading=10),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def _story(document: dict, signed: dict | None, width: float) -> list:
    styles = _styles()
    round_info = document["round"]
    numbers = document["numbers"]
    rule_set = recorded_rule_set(document["rule_set"])
    held_on = dt.date.fromisoformat(round_info["held_on"])
    story: list = [_header(round_info, held_on, styles, width)]

    title = round_info["title"].strip()
    if not title.casefold().startswith("lấy phiếu tín nhiệm"):
        title = f"Lấy phiếu tín nhiệm {title}"
    story += [_p("BIÊN BẢN KIỂM PHIẾU", styles["title"]), _p(title, styles["subtitle"])]
    term = (round_info.get("term") or "").strip()
    if term:
        story.append(_p(term if term.casefold().startswith("nhiệm kỳ") else f"Nhiệm kỳ {term}", styles["centred"]))
    story.append(Spacer(1, 5 * mm))

    board = round_info.get("board") or []
    place = round_info.get("place") or "…"
    story += [
        _p(f"Hội nghị: {round_info['conference']}.", styles["body"]),
        _p(f"Thời gian, địa điểm: {date_words(held_on)}, tại {place}.", styles["body"]),
        _p("Ban kiểm phiếu gồm các đồng chí: " + (", ".join(board) if board else "…") + ".", styles["body"]),
        _p("Ban kiểm phiếu đã tiến hành kiểm phiếu và lập biên bản như sau:", styles["body"]),
    ]

    story.append(_p("I. SỐ NGƯỜI VÀ SỐ PHIẾU", styles["heading"]))
    story += _numbers(document, numbers, rule_set, styles)

    story.append(_p("II. KẾT QUẢ LẤY PHIẾU TÍN NHIỆM", styles["heading"]))
    base = document["base"]
    base_words, unit = BASE_WORDS.get(base["name"], (base["name"], ""))
    story.append(_p(f"Tỷ lệ phần trăm tính trên {base_words} ({number(base['value'])} {unit}). Phiếu không hợp lệ "
                    "vẫn được tính trong số đó, nên ba tỷ lệ của một người có thể không cộng lại thành 100%.",
                    styles["body"]))
    story.append(_results_table(document, rule_set, styles, width))
    story.append(Spacer(1, 2 * mm))
    story += _threshold_summary(document, styles)
    story.append(_p(f"Quy định áp dụng: {rule_set.title}.", styles["body"]))

    drawn_up = _drawn_up_at(document.get("sealed_at"), held_on)
    closing = [_p("III. KẾT THÚC", styles["heading"]),
               _p(f"Biên bản được lập lúc {drawn_up} và đọc công khai tại hội nghị.", styles["body"])]
    approved = document.get("approved_by") or []
    if approved:
        closing.append(_p("Đã được các thành viên Ban kiểm phiếu phê duyệt: " + ", ".join(approved) + ".",
                          styles["body"]))
    else:
        closing.append(_p("Chưa có thành viên Ban kiểm phiếu nào phê duyệt.", styles["body"]))
    closing.append(Spacer(1, 4 * mm))
    closing.append(_signature_block(document, signed, styles, width))
    story.append(KeepTogether(closing))
    return story


def _header(round_info: dict, held_on: dt.date, styles, width: float) -> Table:
    left = []
    if round_info.get("parent"):
        left.append(_p(round_info["parent"].upper(), styles["header"]))
    left.append(_p(round_info["committee"].upper(), styles["header_bold"]))
    left.append(_p("*", styles["header"]))
    place = (round_info.get("place") or "").strip() or "…"
    right = [
        Paragraph(f"<u>{escape('ĐẢNG CỘNG SẢN VIỆT NAM')}</u>", styles["party"]),
        Spacer(1, 3 * mm),
        _p(f"{place}, {date_words(held_on)}", styles["date"]),
    ]
    table = Table([[left, right]], colWidths=[width * 0.42, width * 0.58])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    return table


def _scanned_words(scanned: dict) -> str:
    """The paper sheets read by the scanner (machine_entry.scanned_record) and who confirmed them."""
    who = "; ".join(f"{name}: {number(count)} tờ" for name, count in scanned.get("confirmed_by", {}).items())
    images = ("lưu trữ cùng hồ sơ kiểm phiếu" if scanned.get("images") == "archive" else "xóa")
    return (f"Phiếu giấy được quét: {number(scanned['pages'])} tờ, máy đọc được {number(scanned['read'])} tờ; "
            f"{number(scanned['confirmed'])} tờ được tính khi kiểm phiếu viên xác nhận đúng như máy đọc"
            + (f" (người xác nhận: {who})" if who else "") + "; các tờ còn lại do kiểm phiếu viên tự nhập hoặc Ban "
            f"kiểm phiếu quyết định. Ảnh quét được {images} khi niêm phong kết quả.")


def _numbers(document: dict, numbers: dict, rule_set: RuleSet, styles) -> list:
    item, sub = styles["item"], styles["sub"]
    people = lambda n: f"{number(n)} người"  # noqa: E731
    sheets = lambda n: f"{number(n)} phiếu"  # noqa: E731
    story = [
        _p(f"1. Số người được triệu tập: {people(numbers['convened'])}; có mặt: {people(numbers['present'])}; "
           f"vắng mặt: {people(numbers['absent'])}.", item),
        _p(f"2. Số phiếu phát ra: {sheets(numbers['issued'])}; số phiếu thu về: {sheets(numbers['collected'])}; "
           f"số phiếu không thu về: {sheets(numbers['not_collected'])}.", item),
        _p(f"3. Số phiếu hợp lệ: {sheets(numbers['valid'])}; số phiếu không hợp lệ: "
           f"{sheets(numbers['invalid'])}" + (", trong đó:" if numbers["invalid"] else "."), item),
    ]
    reasons = numbers.get("invalid_reasons") or {}
    if numbers["invalid"]:
        shown = [NOT_ISSUED, CROSSED_OUT]
        if rule_set.extra_writing_policy == "void":
            shown.append(EXTRA_WRITING)
        if rule_set.invalid_mark_policy == "ballot":
            shown.append(BAD_MARKS)
        shown += [reason for reason in reasons if reason not in shown]
        for reason in shown:
            story.append(_p(f"– {REASON_WORDS.get(reason, reason)}: {sheets(reasons.get(reason, 0))}.", sub))
    set_aside = document.get("set_aside") or {}
    duplicates = set_aside.get("duplicates", 0)
    # physical sheets only (a teller scanning again a sheet they entered sets nothing aside), by why they are copies
    kinds = [(DUPLICATE_WORDS[kind], set_aside[kind]) for kind in DUPLICATE_WORDS if kind in set_aside]
    story.append(_p(f"4. Phiếu trùng mã (cùng một phiếu đã được tính), để riêng, không tính: {sheets(duplicates)}"
                    + (", trong đó:" if duplicates and kinds else "."), item))
    if duplicates:
        story += [_p(f"– {words}: {sheets(count)}.", sub) for words, count in kinds]
    rulings = document.get("rulings") or {}
    story.append(_p("5. Số tờ phiếu do Ban kiểm phiếu quyết định vì các lần nhập phiếu không khớp nhau: "
                    f"{number(rulings.get('sheets', 0))} tờ.", item))
    if document.get("scanned"):
        story.append(_p(_scanned_words(document["scanned"]), sub))
    anomalies = [_anomaly_words(anomaly, numbers) for anomaly in document.get("anomalies") or []]
    story.append(_p("6. Bất thường: " + (" ".join(anomalies) if anomalies else "không có."), item))
    if rulings.get("anomaly"):
        story.append(_p(f"Quyết định của Ban kiểm phiếu: {rulings['anomaly']}", sub))
    if document.get("ballot_box"):
        story += _ballot_box(document["ballot_box"], item, sub)
    return story


def _ballot_box(record: dict, item, sub) -> list:
    """The close record and the opening of the tablet ballots' box, as the board reads them out."""
    holders = [name if name else "thẻ dự phòng của cấp ủy cấp trên trực tiếp" for name in record["opened_by"]]
    return [
        _p(f"7. Hòm phiếu điện tử (phiếu bỏ trên máy tính bảng): khi kết thúc bỏ phiếu có "
           f"{number(record['sealed'])} phiếu niêm phong; mã niêm phong:", item),
        *(_p(line, sub) for line in grouped_hex(record["sealed_digest"])),
        _p("Hòm phiếu được mở bằng thẻ khóa của: "
           + (", ".join(holders) if holders else "không cần mở (không có phiếu)")
           + f"; số phiếu mở ra: {number(record['opened'])} phiếu, ghi lại theo thứ tự ngẫu nhiên.", sub),
    ]


def _anomaly_words(anomaly: str, numbers: dict) -> str:
    if anomaly == "collected_exceeds_issued":
        return (f"số phiếu thu về ({number(numbers['collected'])}) nhiều hơn số phiếu phát ra "
                f"({number(numbers['issued'])}).")
    if anomaly == "issued_exceeds_present":
        return (f"số phiếu phát ra ({number(numbers['issued'])}) nhiều hơn số người có mặt "
                f"({number(numbers['present'])}).")
    return f"{anomaly}."


def _count_of(candidate: dict) -> CandidateCount:
    return CandidateCount(high=candidate["high"], trust=candidate["trust"], low=candidate["low"],
                          invalid=candidate["invalid"], flags=candidate["flags"])


def _results_table(document: dict, rule_set: RuleSet, styles, width: float) -> Table:
    base = document["base"]["value"]
    candidates = document["candidates"]
    with_invalid = any(c["invalid"] for c in candidates)
    # "1.234" and "100,00%" at 9 pt with their padding; the names get a little more room than the posts
    count_width, share_width, number_width = 11 * mm, 16 * mm, 9 * mm
    invalid_width = 13 * mm if with_invalid else 0
    rest = width - number_width - 3 * (count_width + share_width) - invalid_width
    widths = [number_width, rest * 0.54, rest * 0.46] + [count_width, share_width] * 3
    if with_invalid:
        widths.append(invalid_width)
    last = len(widths) - 1

    head = styles["cell_head"]
    rows = [
        [_p("STT", head), _p("Họ và tên", head), _p("Chức vụ", head)]
        + [cell for word in MARK_WORDS for cell in (_p(word, head), "")] + ([_p("Ô không hợp lệ", head)] * with_invalid),
        ["", "", ""] + [_p("Số phiếu", head), _p("Tỷ lệ", head)] * 3 + ([""] * with_invalid),
    ]
    commands = [
        ("FONTNAME", (0, 2), (-1, -1), font("regular")),
        ("FONTSIZE", (0, 2), (-1, -1), 9),
        ("VALIGN", (0, 0), (-1, 1), "MIDDLE"),
        ("VALIGN", (0, 2), (-1, -1), "TOP"),  # a row's number, name, post and counts on its first line
        ("ALIGN", (3, 2), (-1, -1), "RIGHT"),
        ("ALIGN", (0, 2), (0, -1), "CENTER"),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("BACKGROUND", (0, 0), (-1, 1), colors.Color(0.92, 0.92, 0.92)),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("SPAN", (0, 0), (0, 1)), ("SPAN", (1, 0), (1, 1)), ("SPAN", (2, 0), (2, 1)),
        ("SPAN", (3, 0), (4, 0)), ("SPAN", (5, 0), (6, 0)), ("SPAN", (7, 0), (8, 0)),
    ]
    if with_invalid:
        commands.append(("SPAN", (9, 0), (9, 1)))
    for candidate in candidates:
        row = [str(candidate["position"]), _p(candidate["name"], styles["cell_name"]),
               _p(candidate["post"], styles["cell"])]
        for level in ("high", "trust", "low"):
            row += [number(candidate[level]), share(candidate[level], base)]
        if with_invalid:
            row.append(number(candidate["invalid"]))
        rows.append(row)
        crossed = [key for key in THRESHOLDS if candidate["flags"].get(key)]
        if crossed:
            # the flags on a line of their own under the person; the number cell spans both lines so that a
            # page never falls between a person and what their count means
            text = "Tín nhiệm thấp " + "; ".join(THRESHOLD_WORDS[key] for key in crossed) + "."
            consequences = named_consequences(_count_of(candidate), rule_set)
            if consequences:
                text += " Theo quy định: " + "; ".join(c.rstrip(".") for c in consequences) + "."
            rows.append(["", _p(text, styles["cell_flag"])] + [""] * (last - 1))
            here = len(rows) - 1
            commands += [("SPAN", (0, here - 1), (0, here)), ("SPAN", (1, here), (last, here))]
    table = Table(rows, colWidths=widths, repeatRows=2)
    table.setStyle(TableStyle(commands))
    return table


def _threshold_summary(document: dict, styles) -> list:
    """Who crossed each of the three thresholds: all three are always stated, whichever carry a
    consequence under the rule set."""
    parts = []
    for key in THRESHOLDS:
        who = [c for c in document["candidates"] if c["flags"].get(key)]
        if who:
            numbers = ", ".join(str(c["position"]) for c in who)
            parts.append(f"{THRESHOLD_WORDS[key]}: {len(who)} đồng chí (STT {numbers})")
        else:
            parts.append(f"{THRESHOLD_WORDS[key]}: không có")
    return [_p("Số phiếu tín nhiệm thấp so với các ngưỡng (so sánh chính xác trên số phiếu, không làm tròn): "
               + "; ".join(parts) + ".", styles["body"])]


def _drawn_up_at(sealed_at: str | None, held_on: dt.date) -> str:
    if not sealed_at:
        return f"…… giờ …… phút, {date_words(held_on)}"
    moment = dt.datetime.fromisoformat(sealed_at.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    local = moment.astimezone(VIETNAM)
    return f"{local.hour:02d} giờ {local.minute:02d} phút, {date_words(local.date())}"


def _qr_image(payload: str) -> Image:
    """The QR as a 1-bit image, 4 pixels a module so that no renderer blurs its edges."""
    symbol = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.QRCode, ec_level=QR_LEVEL)
    pixels = memoryview(symbol.to_image(scale=4, add_quiet_zones=True))
    image = PILImage.frombytes("L", (pixels.shape[1], pixels.shape[0]), pixels.tobytes()).convert(
        "1", dither=PILImage.Dither.NONE)
    png = BytesIO()
    image.save(png, format="PNG")
    png.seek(0)
    return Image(png, width=QR_WIDTH, height=QR_WIDTH, hAlign="CENTER")


def _signature_block(document: dict, signed: dict | None, styles, width: float) -> Table:
    if signed is None:
        left = [_p("Bản dự thảo: chưa niêm phong, chưa có mã QR của kết quả đã ký.", styles["sign_note"])]
    else:
        result_hash = result_fingerprint(document)
        left = [_qr_image(qr_payload(document, signed["fingerprint"])),
                _p("Mã kết quả (SHA-256 của kết quả đã ký):", styles["fingerprint_label"])]
        left += [_p(line, styles["fingerprint"]) for line in grouped_hex(result_hash)]
        left.append(_p("Khóa ký (SHA-256 của khóa công khai):", styles["fingerprint_label"]))
        left += [_p(line, styles["fingerprint"]) for line in grouped_hex(signed["fingerprint"])]
    right = [_p("T/M BAN KIỂM PHIẾU", styles["sign"]), _p("TRƯỞNG BAN", styles["sign"]),
             _p("(Ký, ghi rõ họ tên)", styles["sign_note"]), Spacer(1, 28 * mm)]
    table = Table([[left, right]], colWidths=[width * 0.5, width * 0.5])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                               ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    return table
