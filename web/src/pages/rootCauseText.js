// The traced view's sentence for one lot of a supplier's answer, in the reader's language.

export function paramName(t, name) {
  const key = `param.${name}`;
  const said = t(key);
  return said === key ? name : said;
}

export function defectName(t, code) {
  if (!code) return t("rc.defect.any");
  const key = `rc.defect.${code}`;
  const said = t(key);
  return said === key ? code : said;
}

/** "cracks found at assembly traced to Hanul lot L-1127: die temperature +2.1σ above normal, Cpk 0.71" */
export function findingSentence(t, number, request, finding) {
  const driver = finding.driver;
  const supplier = request.partner;
  const lot = finding.lot ?? "—";
  if (!driver) return t("rc.sentence_none", { supplier, lot });
  const shift = driver.shift_sigma;
  const vars = {
    defect: defectName(t, request.defect_type),
    stage: request.found_at ? t(`rc.found.${request.found_at}`) : "",
    supplier,
    lot,
    parameter: paramName(t, driver.name),
    shift: `${shift >= 0 ? "+" : "−"}${number(Math.abs(shift), 1)}`,
    direction: shift >= 0 ? t("rc.above") : t("rc.below"),
    cpk: driver.cpk == null ? "—" : number(driver.cpk, 2),
  };
  return t(request.found_at ? "rc.sentence" : "rc.sentence_plain", vars);
}
