"""Packaging of odoo_chorus_rouen: the pure-Python toolkit and, in the same folder, the Odoo 18 addon."""

from setuptools import find_packages, setup

setup(
    name="odoo-chorus-rouen",
    version="18.0.1.0.0",
    description="Send Odoo 18 invoices to Chorus Pro (Métropole Rouen Normandie budgets and any public buyer)",
    long_description=open("README.rst", encoding="utf-8").read(),  # noqa: SIM115
    long_description_content_type="text/x-rst",
    license="LGPL-3",
    python_requires=">=3.10",
    packages=find_packages(include=["odoo_chorus_rouen", "odoo_chorus_rouen.*"]),
    include_package_data=True,
    package_data={
        "odoo_chorus_rouen": [
            "core/schemas/*",
            "sandbox/*.json",
            "sandbox/samples/*",
        ],
    },
    install_requires=[
        # Floors are Odoo 18's own pins, so the addon installs in the same environment as Odoo.
        "requests>=2.25",
        "lxml>=4.8",
        "python-stdnum>=1.17",
        "xmlschema>=2.0",
        "odoorpc>=0.9",
        "factur-x>=7.8",
        "saxonche>=13.1.1",
        "pypdf>=6.0",  # 6.0 caps FlateDecode output (75 MB); core/pdf_files.py caps embedded files lower
    ],
    extras_require={
        "test": [
            "pytest>=7",
            "responses>=0.23",
            "freezegun>=1.2",
            "psutil>=5.9",
            "pytest-timeout>=2.1",
            "polib>=1.1",
        ],
        "lint": [
            "ruff==0.17.6",
            "pylint-odoo==10.0.12",
        ],
    },
    entry_points={"console_scripts": ["chorus-rouen = odoo_chorus_rouen.cli:main"]},
    classifiers=[
        "Framework :: Odoo",
        "Framework :: Odoo :: 18.0",
        "License :: OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)",
        "Programming Language :: Python :: 3",
    ],
)
