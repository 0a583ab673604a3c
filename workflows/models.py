# Automations, segments and satisfaction surveys arrive with the workflows issue.
