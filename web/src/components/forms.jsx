// Add forms: labelled fields in a row; the server's words shown next to the field it names.
import { useState } from "react";
import { useI18n } from "../i18n.jsx";
import { ErrorBox } from "./ui.jsx";

/** Which of `names` an API error is about: its problem "field" (e.g. "name",
 * "config.host"), a field in its errors list, or the field its message starts with. */
export function fieldOf(error, names) {
  if (!error) return null;
  const said = [
    error.field,
    ...(error.errors || []).map((e) => e && e.field),
    (error.message || "").split(":")[0],
  ].filter(Boolean);
  for (const where of said) {
    const hit = names.find((n) => where === n || where.endsWith(`.${n}`));
    if (hit) return hit;
  }
  return null;
}

/** One field's value as sent: a select with a single choice is that choice. */
function valueOf(field, values) {
  const v = values[field.name];
  if (v === "" && field.options && field.options.length === 1 && field.required) return field.options[0][0];
  return v;
}

/**
 * A form adding one thing. `fields`: [{name, label, type?, options?: [[value, label]],
 * required?, initial?, placeholder?}]; `onSubmit(body)` calls the API and returns what
 * was made. Empty optional fields are left out of the body; numbers are sent as numbers.
 */
export function AddForm({ testid, fields, onSubmit, onDone, submitLabel, disabled, children }) {
  const { t } = useI18n();
  const initial = Object.fromEntries(fields.map((f) => [f.name, f.initial ?? ""]));
  const [values, setValues] = useState(initial);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(null);
  const set = (name) => (e) =>
    setValues({ ...values, [name]: e.target.type === "checkbox" ? e.target.checked : e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    setDone(null);
    setBusy(true);
    try {
      const body = {};
      for (const f of fields) {
        const v = valueOf(f, values);
        if (v === "" && !f.required) continue;
        body[f.name] = f.type === "number" && v !== "" ? Number(v) : v;
      }
      const made = await onSubmit(body);
      const kept = Object.fromEntries(fields.map((f) => [f.name, f.options ? values[f.name] : initial[f.name]]));
      setValues(kept);
      setDone(made?.name || made?.number || made?.code || "");
      if (onDone) onDone(made);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const bad = fieldOf(error, fields.map((f) => f.name));
  return (
    <form className="addform" data-testid={testid} onSubmit={submit} noValidate>
      {fields.map((f) => (
        <label key={f.name} className={bad === f.name ? "field invalid" : "field"}>
          <span>
            {f.label} {!f.required && f.type !== "checkbox" && <small className="muted">{t("form.optional")}</small>}
          </span>
          {f.options ? (
            <select name={f.name} value={valueOf(f, values)} onChange={set(f.name)}>
              <option value="">{f.required ? t("setup.pick") : t("setup.none")}</option>
              {f.options.map(([v, label]) => (
                <option key={v} value={v}>{label}</option>
              ))}
            </select>
          ) : f.type === "checkbox" ? (
            <input name={f.name} type="checkbox" checked={Boolean(values[f.name])} onChange={set(f.name)} />
          ) : (
            <input
              name={f.name}
              type={f.type || "text"}
              value={values[f.name]}
              placeholder={f.placeholder}
              onChange={set(f.name)}
            />
          )}
          {bad === f.name && (
            <span className="field-error" role="alert" data-testid="field-error">{error.message}</span>
          )}
        </label>
      ))}
      {children}
      <button type="submit" disabled={busy || disabled}>{busy ? t("form.saving") : submitLabel || t("form.add")}</button>
      {done !== null && <span className="ok" role="status">{t("form.added", { name: done })}</span>}
      {error && !bad && <ErrorBox error={error} />}
    </form>
  );
}
