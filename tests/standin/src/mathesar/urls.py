from django.contrib.auth.views import LogoutView
from django.urls import path

from mathesar import rpc, views

urlpatterns = [
    path("", views.home, name="home"),
    path("auth/login/", views.MathesarLoginView.as_view(), name="login"),
    path("auth/logout/", LogoutView.as_view(), name="logout"),
    path("complete_installation/", views.complete_installation, name="complete_installation"),
    path("api/rpc/v0/", rpc.rpc_view, name="rpc"),
    path("api/ui/v0/data_files/", views.data_files, name="data_files"),
]
