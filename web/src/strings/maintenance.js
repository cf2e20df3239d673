// Korean and English words of the machines' maintenance events and run-to-failure model
// (merged into i18n.jsx).

export const en = {
  "machines.rul_from_trained": "RUL from a model trained on {n} run-to-failure histories",
  "machines.rul_from_index": "RUL from the degradation index (normal operation)",
  "machines.rul_model_detail": "{name} v{version}, trained {when} on {n} run-to-failure histories of {kind} machines; current run since {since}.",
  "maintenance.title": "Maintenance events",
  "maintenance.none": "No failures, repairs or replacements recorded. Record failures (and repairs) so a remaining-life model can learn from machines of this kind run to failure.",
  "maintenance.kind": "What happened",
  "maintenance.kind_failure": "failure",
  "maintenance.kind_repair": "repair",
  "maintenance.kind_replacement": "replacement",
  "maintenance.occurred_at": "When",
  "maintenance.note": "Note",
  "maintenance.record": "Record",
  "maintenance.delete": "Delete",
  "maintenance.train": "Train a remaining-life model for {kind} machines",
  "maintenance.training": "Training queued: the remaining life will come from the new model once it is ready.",
};

export const ko = {
  "machines.rul_from_trained": "고장까지 운전 이력 {n}건으로 학습한 모델의 잔여 수명",
  "machines.rul_from_index": "열화 지수(정상 운전 기준)의 잔여 수명",
  "machines.rul_model_detail": "{name} v{version}, {when}에 {kind} 설비의 고장까지 운전 이력 {n}건으로 학습; 현재 운전은 {since}부터.",
  "maintenance.title": "정비 이력",
  "maintenance.none": "기록된 고장, 수리, 교체가 없습니다. 고장(과 수리)을 기록하면 같은 종류 설비의 고장까지 운전 이력으로 잔여 수명 모델을 학습할 수 있습니다.",
  "maintenance.kind": "내용",
  "maintenance.kind_failure": "고장",
  "maintenance.kind_repair": "수리",
  "maintenance.kind_replacement": "교체",
  "maintenance.occurred_at": "일시",
  "maintenance.note": "메모",
  "maintenance.record": "기록",
  "maintenance.delete": "삭제",
  "maintenance.train": "{kind} 설비의 잔여 수명 모델 학습",
  "maintenance.training": "학습이 대기열에 들어갔습니다. 모델이 준비되면 잔여 수명은 새 모델이 계산합니다.",
};
