"""A student's standing (当前认定): the one answer every page, list, dashboard, report and the API give about a
student's level and money for a school year.

- `standing`: the rule (`standing_select`, composable SQL for lists and counts), the `Standing` value and its
  view, and reading it for one student or a page of them in one query.
"""
