"""Suggested replies for agents: in the workspace, for the conversation open, the three macros or
help-center articles most likely to be used next, learnt from which ones agents inserted after
similar customer messages (issue 15).

- `engine`: the model, pure functions (train, rank, measure the top-3 hit rate).
- `recording`: what a reply says it inserted (Message.inserted), checked.
- `history`: the replies of the past as the engine's examples.
- `training`: train, measure on the held-out last week, store (SuggestionModel).
- `serving`: the newest model, cached per process, asked about an open conversation.
- `articles`: the registry the help center plugs its articles into (it sits above conversations).

Imported lazily by its callers' functions where scikit-learn would load with it.
"""
