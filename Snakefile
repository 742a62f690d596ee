# Entry point at the repository root: the workflow lives in workflow/. A root Snakefile that only includes
# workflow/Snakefile would lose the default target, so it declares its own.


include: "workflow/Snakefile"


rule default:
    default_target: True
    input:
        rules.all.input,
