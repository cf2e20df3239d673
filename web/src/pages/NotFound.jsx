import { Link } from "react-router-dom";
import { useI18n } from "../i18n.jsx";

export default function NotFound() {
  const { t } = useI18n();
  return (
    <div className="error" role="alert" data-testid="error">
      <strong>{t("common.not_found")}</strong>
      <p>
        <Link to="/">{t("common.back_overview")}</Link>
      </p>
    </div>
  );
}
