"""The site's side of edge boxes: registering them, the signed model packages they pull,
and the results they forward (one inspection record per result, however often it is sent).

The box itself (``dure edge``) lives in ``dure.edge`` and never imports this package.
"""
