from notifications.customer import CustomerNotifier
from restaurant.commands import LongRunningCommand


class Command(LongRunningCommand):
    help = (
        "Tell guests who left a phone or an email that their order was received, is ready, or was cancelled "
        "(SMS_BACKEND, EMAIL_URL). Catches up on what it missed while down. Stops cleanly on SIGTERM/SIGINT."
    )
    service = "customer-notifier"

    def run(self, stop, **options) -> int:
        return CustomerNotifier(stop=stop).run()
