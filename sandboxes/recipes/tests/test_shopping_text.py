from recipes import parse_recipe, shopping_list
from recipes.parse import parse_lines
from recipes.shopping import as_checklist


def test_checklist():
    soup = parse_recipe("Soup", 2, ["1 l stock", "2 pc carrots"])
    salad = parse_recipe("Salad", 2, ["1 pc carrots", "1/2 cup walnuts"])
    assert as_checklist(shopping_list([soup, salad])) == (
        "[ ] 3 pc carrots\n[ ] 1 l stock\n[ ] 1/2 cup walnuts\n")


def test_parse_lines_skips_comments_and_blank_lines():
    items = parse_lines("# dough\n500 g Flour\n\n1 tsp  salt  # fine\n")
    assert [i.name for i in items] == ["flour", "salt"]
