import { useState } from "react";
import { Navigate, useLocation } from "react-router-dom";
import { useAuth } from "../auth.jsx";
import { useI18n } from "../i18n.jsx";
import { ErrorBox } from "../components/ui.jsx";

export default function Login() {
  const { t, lang, setLang } = useI18n();
  const { me, login, enterToken } = useAuth();
  const location = useLocation();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [token, setTokenText] = useState("");
  const [remember, setRemember] = useState(false);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  if (me) return <Navigate to={location.state?.from || "/"} replace />;

  const submit = async (event, withToken) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (withToken) await enterToken(token.trim(), remember);
      else await login(email.trim(), password, remember);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="login">
      <button className="link lang-corner" data-testid="lang" onClick={() => setLang(lang === "ko" ? "en" : "ko")}>
        {t("lang.switch")}
      </button>
      <h1>{t("login.title")}</h1>
      <form onSubmit={(e) => submit(e, false)}>
        <label>
          {t("login.email")}
          <input name="email" type="email" autoComplete="username" value={email} required
            onChange={(e) => setEmail(e.target.value)} />
        </label>
        <label>
          {t("login.password")}
          <input name="password" type="password" autoComplete="current-password" value={password}
            required onChange={(e) => setPassword(e.target.value)} />
        </label>
        <label className="check">
          <input type="checkbox" checked={remember} onChange={(e) => setRemember(e.target.checked)} />
          {t("login.remember")}
        </label>
        <button type="submit" disabled={busy} data-testid="login-submit">
          {t("login.submit")}
        </button>
      </form>
      <details>
        <summary>{t("login.or_token")}</summary>
        <form onSubmit={(e) => submit(e, true)}>
          <label>
            {t("login.token")}
            <input name="token" value={token} onChange={(e) => setTokenText(e.target.value)} required />
          </label>
          <button type="submit" disabled={busy}>{t("login.submit")}</button>
        </form>
      </details>
      <ErrorBox error={error} />
      <p className="muted small">{t("login.demo")}</p>
    </div>
  );
}
