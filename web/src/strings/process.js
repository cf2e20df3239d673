// Strings of the Process page for long histories (only the newest records are charted).
export const en = {
  "process.records_window": "newest {n} of {m} process records charted",
  "process.limits_oldest": "Limits from the first {n} points of the oldest {m} records (phase I); rules checked on every charted point",
};

export const ko = {
  "process.records_window": "공정 기록 {m}건 중 최근 {n}건을 표시",
  "process.limits_oldest": "가장 오래된 기록 {m}건의 처음 {n}점으로 정한 관리 한계(1단계), 표시된 모든 점에서 규칙 검사",
};
