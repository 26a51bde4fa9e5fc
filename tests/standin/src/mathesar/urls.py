from django.contrib.auth.views import LogoutView
from django.urls import path

from mathesar import rpc, views

# The paths real Mathesar (0.10.1, 0.11.0) serves them at.
urlpatterns = [
    path("", views.home, name="home"),
    path("auth/login/", views.MathesarLoginView.as_view(), name="login"),
    path("auth/logout/", LogoutView.as_view(), name="logout"),
    path("complete_installation/", views.complete_installation, name="complete_installation"),
    path("api/rpc/v0/", rpc.rpc_view, name="rpc"),
    path("api/db/v0/data_files/", views.data_files, name="data_files"),
    path("api/db/v0/data_files/<int:pk>/", views.data_file_detail, name="data_file_detail"),
]
