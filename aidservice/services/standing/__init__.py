"""A student's standing (当前认定): the one answer every page, list, dashboard, report and the API give about a
student's level and money for a school year.

- `standing`: the rule (`standing_select` for a student or a page, `with_levels` for counts), the `Standing`
  value and its view, reading it for one student or a page of them in one query, level counts.
"""
