// The live checks of one subject (a sensor channel, a machine, a part or one of its process
// parameters): how each watch is doing, and (engineers) its rules, rate and baseline.
import { useEffect, useState } from "react";
import { api } from "../api.js";
import { useAuth } from "../auth.jsx";
import { useI18n } from "../i18n.jsx";
import { ErrorBox, useApi } from "./ui.jsx";

function status(t, check) {
  if (check.status === "learning")
    return t("checks.status.learning", { n: check.learned_from ?? 0, needs: check.baseline });
  if (check.status === "failing") return t("checks.status.failing", { error: check.last_error });
  return t(`checks.status.${check.status}`);
}

const PARAMETER_DEFAULTS = ["WE1", "WE2", "WE3", "WE4"];

export default function LiveChecks({ subjectKind, subjectId, parameter = "" }) {
  const { t } = useI18n();
  const { can } = useAuth();
  const query = `subject_kind=${subjectKind}&subject_id=${encodeURIComponent(subjectId)}`;
  const { data, error, reload } = useApi(`/api/live-checks?${query}`);
  const { data: catalogue } = useApi("/api/live-checks/rules");
  const stored = (data || []).find((c) => (c.parameter || "") === parameter) || null;
  // a process parameter follows its part's watch until someone sets it apart
  const check =
    stored ||
    (subjectKind === "parameter" && data
      ? { id: "", status: "watching", enabled: true, rules: PARAMETER_DEFAULTS, false_alarm_rate: 0.0027, baseline: 200 }
      : null);
  const tunable = subjectKind === "channel" || subjectKind === "asset";
  const [form, setForm] = useState(null);
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState(false);
  const [problem, setProblem] = useState(null);
  useEffect(() => {
    setForm(
      check
        ? {
            enabled: check.enabled,
            rules: check.rules,
            rate: String(check.false_alarm_rate),
            baseline: String(check.baseline),
          }
        : null,
    );
  }, [check?.id, check?.enabled, check?.rules?.join(","), check?.false_alarm_rate, check?.baseline]);
  if (error) return <ErrorBox error={error} onRetry={reload} />;
  const editable = can("engineer");
  const rules = (catalogue || {})[subjectKind] || [];
  const save = async (event) => {
    event.preventDefault();
    setSaving(true);
    setProblem(null);
    setSaved(false);
    try {
      await api("/api/live-checks", {
        method: "PUT",
        body: {
          subject_kind: subjectKind,
          subject_id: subjectId,
          parameter: parameter || null,
          enabled: form.enabled,
          rules: form.rules,
          false_alarm_rate: tunable ? Number(form.rate) : undefined,
          baseline: tunable ? Number(form.baseline) : undefined,
        },
      });
      setSaved(true);
      reload();
    } catch (err) {
      setProblem(err);
    } finally {
      setSaving(false);
    }
  };
  return (
    <div className="live-checks" data-testid={`live-checks-${subjectKind}`}>
      <h3>{t("checks.title")}</h3>
      {!check || !form ? (
        <p className="muted">{t("checks.none")}</p>
      ) : (
        <form onSubmit={save}>
          <p data-testid="check-status">{status(t, check)}</p>
          <fieldset disabled={!editable || saving}>
            <label>
              <input
                type="checkbox"
                checked={form.enabled}
                onChange={(e) => setForm({ ...form, enabled: e.target.checked })}
              />{" "}
              {t("checks.enabled")}
            </label>
            <div className="rules">
              <span className="muted">{t("checks.rules")}</span>
              {rules.map((code) => (
                <label key={code} className="rule">
                  <input
                    type="checkbox"
                    data-testid={`rule-${code}`}
                    checked={form.rules.includes(code)}
                    onChange={(e) =>
                      setForm({
                        ...form,
                        rules: e.target.checked
                          ? [...form.rules, code]
                          : form.rules.filter((r) => r !== code),
                      })
                    }
                  />{" "}
                  {t(`checks.rule.${code}`)}
                </label>
              ))}
            </div>
            {tunable && (<>
            <label>
              {t("checks.rate")}{" "}
              <input
                name="false_alarm_rate"
                value={form.rate}
                size={8}
                onChange={(e) => setForm({ ...form, rate: e.target.value })}
              />
            </label>{" "}
            <label>
              {t("checks.baseline")}{" "}
              <input
                name="baseline"
                value={form.baseline}
                size={6}
                onChange={(e) => setForm({ ...form, baseline: e.target.value })}
              />
            </label>{" "}
            </>)}
            {editable && (
              <button type="submit" data-testid="save-check">
                {t("checks.save")}
              </button>
            )}
            {saved && <span className="muted"> {t("checks.saved")}</span>}
          </fieldset>
          {problem && <ErrorBox error={problem} />}
        </form>
      )}
    </div>
  );
}
