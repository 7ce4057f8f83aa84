//! The CJK charsets real mail uses, one fixture each (`fixtures/emails/charsets/`): the calendar
//! text is checked by the corpus test; this checks the other half, the RFC 2047 Subject in the same
//! charset, which the reply quotes back to the sender.

use std::path::PathBuf;

use invite_router::core::{Limits, SenderPolicy, analyze};

/// Fixture, charset as labelled on the wire, and the Subject a careful reader sees.
const SUBJECTS: [(&str, &str, &str); 9] = [
    (
        "iso-2022-jp-groupware",
        "ISO-2022-JP",
        "【会議招集】定例会議（1月22日）",
    ),
    ("shift-jis-outlook", "shift_jis", "プロジェクト進捗確認"),
    ("euc-jp-unix-mailer", "EUC-JP", "年末進行打ち合わせ"),
    (
        "ks-c-5601-outlook-korean",
        "ks_c_5601-1987",
        "주간 회의 초대",
    ),
    ("euc-kr-webmail", "EUC-KR", "분기 실적 검토 회의"),
    ("gb2312-foxmail", "gb2312", "项目启动会通知"),
    ("gbk-outlook", "gbk", "年度總結會（含港澳同事）"),
    ("gb18030-mailer", "GB18030", "𠮷野家团建活动"),
    ("big5-outlook-taiwan", "big5", "產品發表會彩排"),
];

#[test]
fn subjects_in_every_cjk_charset_are_decoded() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/emails/charsets");
    let mut wrong = Vec::new();
    for (name, charset, subject) in SUBJECTS {
        let raw = std::fs::read(dir.join(format!("{name}.eml"))).expect("fixture exists");
        let wire = String::from_utf8_lossy(&raw);
        assert!(
            wire.contains(&format!("=?{charset}?B?")),
            "{name}: the Subject is not encoded in {charset}"
        );
        let analysis = analyze(&raw, &Limits::default(), &SenderPolicy::default());
        let got = analysis.envelope.subject.as_deref();
        if got != Some(subject) {
            wrong.push(format!(
                "{name} ({charset}): expected {subject:?}, got {got:?}"
            ));
        }
        if analysis.verdict.is_err() {
            wrong.push(format!("{name}: refused as {:?}", analysis.reason()));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
