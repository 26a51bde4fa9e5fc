from django.urls import include, path

urlpatterns = [path("", include("mathesar.urls"))]
