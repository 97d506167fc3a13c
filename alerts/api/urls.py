app_name = "alerts-api"
urlpatterns: list = []
