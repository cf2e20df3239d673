// The frame of every page: navigation by role and organisation kind, language, logout.
import { NavLink, Outlet, useLocation } from "react-router-dom";
import ErrorBoundary from "./ErrorBoundary.jsx";
import { useAuth } from "../auth.jsx";
import { useI18n } from "../i18n.jsx";

export default function Layout() {
  const { t, lang, setLang } = useI18n();
  const { me, logout, can, isOem } = useAuth();
  const location = useLocation();
  const links = [
    ["/", "nav.overview", true],
    ["/review", "nav.review", !isOem],
    ["/teach", "nav.teach", !isOem && can("engineer")],
    ["/machines", "nav.machines", !isOem],
    ["/process", "nav.process", !isOem],
    ["/models", "nav.models", true],
    ["/scorecard", "nav.scorecard", isOem],
    ["/traceability", "nav.traceability", true],
    ["/root-cause", "nav.root_cause", isOem],
    ["/root-cause/shared", "nav.shared", !isOem],
    ["/alerts", "nav.alerts", true],
    ["/connectors", "nav.connectors", can("engineer")],
    ["/setup", "nav.setup", can("engineer")],
    ["/admin", "nav.admin", can("admin")],
  ];
  return (
    <div className="shell">
      <header className="top">
        <span className="brand">{t("app.name")}</span>
        <nav>
          {links
            .filter(([, , shown]) => shown)
            .map(([to, key]) => (
              <NavLink key={to} to={to} end={to === "/"} data-testid={`nav-${key.split(".")[1]}`}>
                {t(key)}
              </NavLink>
            ))}
        </nav>
        <span className="who" data-testid="who">
          {me.organisation.name} · {me.user?.display_name || me.role}
        </span>
        <button
          className="link"
          data-testid="lang"
          onClick={() => setLang(lang === "ko" ? "en" : "ko")}
        >
          {t("lang.switch")}
        </button>
        <button className="link" onClick={logout} data-testid="logout">
          {t("nav.logout")}
        </button>
      </header>
      <main>
        <ErrorBoundary resetKey={location.pathname}>
          <Outlet />
        </ErrorBoundary>
      </main>
    </div>
  );
}
