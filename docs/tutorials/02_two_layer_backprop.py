# %% [markdown]
# # Placeholder

# %%
print(1)
