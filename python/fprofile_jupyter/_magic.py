"""The %%fprofile cell magic."""
